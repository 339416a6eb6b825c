"""A BuildGrid worker for the tests: a Remote Workers API (v1test2) bot
that takes one lease at a time, runs its action with buildbox-run
through a buildbox-casd that proxies BuildGrid's CAS, and hands back the
ActionResult. BuildGrid 0.9 ships no bot of its own.

Run with the python of BuildGrid's venv (its generated protos):
bgd_bot.py SERVER CASD_SOCKET BUILDBOX_RUN WORKDIR"""
import os, subprocess, sys, time

import grpc
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as re
from buildgrid._protos.google.devtools.remoteworkers.v1test2 import bots_pb2, bots_pb2_grpc, worker_pb2
from buildgrid._protos.google.rpc import code_pb2, status_pb2

server, socket, runner, workdir = sys.argv[1:5]
bots = bots_pb2_grpc.BotsStub(grpc.insecure_channel(server))
device = worker_pb2.Device(handle="forge-test-device")
for key, value in (("OSFamily", "linux"), ("ISA", "x86-64")):
    device.properties.add(key=key, value=value)
session = bots.CreateBotSession(bots_pb2.CreateBotSessionRequest(
    parent="", bot_session=bots_pb2.BotSession(
        bot_id="forge-test-bot", status=bots_pb2.BotStatus.OK,
        worker=worker_pb2.Worker(devices=[device]))))


def run(lease):
    action = re.Action()
    lease.payload.Unpack(action)
    path = os.path.join(workdir, "action.pb")
    result_path = os.path.join(workdir, "result.pb")
    with open(path, "wb") as f:
        f.write(action.SerializeToString())
    if os.path.exists(result_path):
        os.remove(result_path)
    done = subprocess.run([runner, "--remote=unix:" + socket, "--action=" + path,
                           "--action-result=" + result_path], capture_output=True)
    if done.returncode != 0 or not os.path.exists(result_path):
        lease.status.CopyFrom(status_pb2.Status(code=code_pb2.INTERNAL, message=done.stderr.decode(errors="replace")[-2000:]))
    else:
        result = re.ActionResult()
        with open(result_path, "rb") as f:
            result.ParseFromString(f.read())
        lease.result.Pack(result)
        lease.status.CopyFrom(status_pb2.Status(code=code_pb2.OK))
    lease.state = bots_pb2.LeaseState.COMPLETED


def update():
    return bots.UpdateBotSession(bots_pb2.UpdateBotSessionRequest(name=session.name, bot_session=session))


finished = set()
while True:
    new = [l for l in session.leases if l.state in (bots_pb2.LeaseState.PENDING, bots_pb2.LeaseState.ACTIVE) and l.id not in finished]
    if not new:
        session = update()
        if not session.leases:
            time.sleep(0.05)
        continue
    lease = new[0]
    print("lease", lease.id, bots_pb2.LeaseState.Name(lease.state), file=sys.stderr, flush=True)
    if lease.state == bots_pb2.LeaseState.PENDING:
        # Accepted first, as the Remote Workers API asks.
        lease.state = bots_pb2.LeaseState.ACTIVE
        session = update()
        mine = [l for l in session.leases if l.id == lease.id]
        print("accepted", [bots_pb2.LeaseState.Name(l.state) for l in mine], file=sys.stderr, flush=True)
        if not mine:
            continue
        lease = mine[0]
    run(lease)
    finished.add(lease.id)
    print("done", lease.id, lease.status.code, file=sys.stderr, flush=True)
    session = update()
