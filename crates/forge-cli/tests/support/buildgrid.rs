//! BuildGrid 0.9.1 in its cache-only configuration (CAS, ByteStream and
//! ActionCache; no Remote Asset) on 127.0.0.1, over TLS with client
//! certificates and JWT tokens, started by a test and stopped by pid; and
//! the certificates and token it needs, made with openssl and python3.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::server::{ServerProcess, free_port};

/// Where `bgd` is: `$FORGE_TEST_BGD`, else the venv `.ci/run` makes.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FORGE_TEST_BGD") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let bgd = home.join(".cache/forge-ci/bgd-venv/bin/bgd");
    assert!(
        bgd.is_file(),
        "bgd not found: run .ci/run (it installs buildgrid 0.9.1 into ~/.cache/forge-ci/bgd-venv) or set FORGE_TEST_BGD"
    );
    bgd
}

fn run(dir: &Path, program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(status.success(), "{program} {args:?} failed");
}

/// A CA, a server certificate for localhost and 127.0.0.1 and a client
/// certificate it signed, and a JWT signed with `jwt.secret`, in `dir`.
pub fn make_credentials(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let ossl = |args: &[&str]| run(dir, "openssl", args);
    ossl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=forge test CA",
    ]);
    for (name, usage, san) in [
        ("server", "serverAuth", "subjectAltName=DNS:localhost,IP:127.0.0.1\n"),
        ("client", "clientAuth", ""),
    ] {
        std::fs::write(
            dir.join(format!("{name}.ext")),
            format!(
                "{san}basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage={usage}\n"
            ),
        )
        .unwrap();
        ossl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN=forge {name}"),
        ]);
        ossl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ]);
    }
    std::fs::write(dir.join("jwt.secret"), "a secret for the tests").unwrap();
    let script = "import base64,hmac,hashlib,json,time\n\
        b=lambda d: base64.urlsafe_b64encode(d).rstrip(b'=').decode()\n\
        h=b(json.dumps({'alg':'HS256','typ':'JWT'}).encode())\n\
        p=b(json.dumps({'sub':'forge','exp':int(time.time())+3600}).encode())\n\
        s=b(hmac.new(open('jwt.secret','rb').read(),(h+'.'+p).encode(),hashlib.sha256).digest())\n\
        open('token.txt','w').write(h+'.'+p+'.'+s+'\\n')\n";
    run(dir, "python3", &["-c", script]);
}

/// `bgd server start` of `config` (written into `scratch`, the log beside
/// it), once it listens on `port`.
fn serve(scratch: &Path, config: &str, port: u16) -> ServerProcess {
    let config_path = scratch.join("buildgrid.yml");
    std::fs::write(&config_path, config).unwrap();
    let log = std::fs::File::create(scratch.join("buildgrid.log")).unwrap();
    let child = Command::new(binary())
        .args(["server", "start"])
        .arg(&config_path)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start bgd");
    ServerProcess::listening(child, port, "BuildGrid", Duration::from_secs(60))
}

/// A running BuildGrid; killed when dropped.
pub struct BuildGrid {
    _process: ServerProcess,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl BuildGrid {
    /// Starts BuildGrid over TLS (server certificate and required client
    /// certificates from `credentials`) with JWT authorization.
    pub fn start_tls(scratch: &Path, credentials: &Path) -> BuildGrid {
        std::fs::create_dir_all(scratch).unwrap();
        let port = free_port();
        let c = credentials.canonicalize().unwrap();
        let config = format!(
            "server:\n  - !channel\n    address: \"127.0.0.1:{port}\"\n    insecure-mode: false\n    credentials:\n      \
             tls-server-key: {k}\n      tls-server-cert: {crt}\n      tls-client-certs: {ca}\n\
             authorization:\n  method: jwt\n  secret: {secret}\n  algorithm: hs256\n\
             monitoring:\n  enabled: false\n\
             storages:\n  - !lru-storage &cas-store\n    size: 256MB\n\
             caches:\n  - !lru-action-cache &ac\n    storage: *cas-store\n    max-cached-refs: 10000\n    allow-updates: true\n\
             instances:\n  - name: \"\"\n    services:\n      - !cas\n        storage: *cas-store\n      - !bytestream\n        \
             storage: *cas-store\n      - !action-cache\n        cache: *ac\n\
             thread-pool-size: 10\n",
            k = c.join("server.key").display(),
            crt = c.join("server.crt").display(),
            ca = c.join("ca.crt").display(),
            secret = c.join("jwt.secret").display(),
        );
        BuildGrid {
            _process: serve(scratch, &config, port),
            port,
        }
    }
}

/// A private PostgreSQL cluster on 127.0.0.1 (BuildGrid's scheduler needs
/// one), run as the `postgres` user when the test runs as root (initdb
/// refuses root); stopped when dropped.
pub struct Postgres {
    data: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    /// Its port.
    pub port: u16,
}

fn postgres_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.flatten()
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .expect("PostgreSQL not found in /usr/lib/postgresql: .ci/run installs the postgresql package")
}

impl Postgres {
    /// Makes and starts a cluster in `dir` with a `bgd` superuser and
    /// database, trusting loopback.
    pub fn start(dir: &Path) -> Postgres {
        std::fs::create_dir_all(dir).unwrap();
        let bin = postgres_bin();
        // SAFETY: getuid has no preconditions.
        let as_postgres = unsafe { libc::getuid() } == 0;
        if as_postgres {
            run(dir, "chown", &["-R", "postgres:postgres", "."]);
            // Every directory above must let postgres through.
            let mut up = dir.to_path_buf();
            while up.pop() && up.as_os_str().len() > 1 {
                let _ = std::fs::set_permissions(&up, std::os::unix::fs::PermissionsExt::from_mode(0o755));
            }
        }
        let port = free_port();
        let data = dir.join("data");
        let postgres = Postgres {
            data: data.clone(),
            bin: bin.clone(),
            as_postgres,
            port,
        };
        postgres.pg(&format!(
            "{} -D {} -A trust -U bgd",
            bin.join("initdb").display(),
            data.display()
        ));
        postgres.pg(&format!(
            "{} -D {} -l {} -w -o '-p {port} -k {} -c listen_addresses=127.0.0.1' start",
            bin.join("pg_ctl").display(),
            data.display(),
            dir.join("log").display(),
            dir.display()
        ));
        postgres.pg(&format!(
            "{} -h 127.0.0.1 -p {port} -U bgd -d postgres -c 'create database bgd'",
            bin.join("psql").display()
        ));
        postgres
    }

    /// Runs `command` as the cluster's owner; whether it succeeded.
    fn as_owner(&self, command: &str) -> bool {
        let mut shell = if self.as_postgres {
            let mut su = Command::new("su");
            su.args(["postgres", "-s", "/bin/sh", "-c", command]);
            su
        } else {
            let mut sh = Command::new("sh");
            sh.args(["-c", command]);
            sh
        };
        shell
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn pg(&self, command: &str) {
        assert!(self.as_owner(command), "{command} failed");
    }

    /// The URL BuildGrid connects with.
    pub fn url(&self) -> String {
        format!("postgresql://bgd@127.0.0.1:{}/bgd", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let command = format!(
            "{} -D {} -m immediate stop",
            self.bin.join("pg_ctl").display(),
            self.data.display()
        );
        self.as_owner(&command);
    }
}

/// BuildGrid with execution: CAS, ActionCache, Execution, Operations and
/// Bots on a SQL scheduler, and one worker (`data/bgd_bot.py`, running
/// each action with buildbox-run through a buildbox-casd proxy of
/// BuildGrid's CAS). Everything is stopped when dropped, the worker and
/// its proxy first.
pub struct BuildGridExecution {
    _bot: ServerProcess,
    _proxy: ServerProcess,
    _server: ServerProcess,
    _postgres: Postgres,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl BuildGridExecution {
    /// Starts the whole stack under `scratch`.
    pub fn start(scratch: &Path) -> BuildGridExecution {
        std::fs::create_dir_all(scratch.join("cas")).unwrap();
        let scratch = scratch.canonicalize().unwrap();
        let postgres = Postgres::start(&scratch.join("pg"));
        let bgd = binary();
        run(&scratch, bgd.to_str().unwrap(), &["migrate", "apply", &postgres.url()]);
        let port = free_port();
        let config = format!(
            "server:\n  - !channel\n    address: \"127.0.0.1:{port}\"\n    insecure-mode: true\n\
             authorization:\n  method: none\nmonitoring:\n  enabled: false\n\
             connections:\n  - !sql-connection &sql\n    connection-string: {url}\n    pool-size: 5\n    max-overflow: 5\n\
             storages:\n  - !disk-storage &cas-store\n    path: {cas}\n\
             caches:\n  - !lru-action-cache &ac\n    storage: *cas-store\n    max-cached-refs: 10000\n    allow-updates: true\n    cache-failed-actions: true\n\
             schedulers:\n  - !sql-scheduler &sched\n    sql: *sql\n    storage: *cas-store\n    action-cache: *ac\n    \
             bot-session-keepalive-timeout: 30\n    property-set: !dynamic-property-set\n      match-property-keys: [OSFamily, ISA]\n      \
             wildcard-property-keys: [chrootRootDigest, network, unixUID, unixGID]\n    assigners:\n      - !priority-age-assigner\n        count: 1\n        interval: 0.1\n\
             instances:\n  - name: \"\"\n    services:\n      - !cas\n        storage: *cas-store\n      - !bytestream\n        storage: *cas-store\n      \
             - !action-cache\n        cache: *ac\n      - !execution\n        scheduler: *sched\n\
             thread-pool-size: 20\n",
            url = postgres.url(),
            cas = scratch.join("cas").display(),
        );
        let server = serve(&scratch, &config, port);
        // The worker's side: casd proxying BuildGrid's CAS on a socket.
        let casd = super::casd::binary();
        let socket = scratch.join("casd.sock");
        let proxy_log = std::fs::File::create(scratch.join("proxy.log")).unwrap();
        let proxy = Command::new(&casd)
            .arg(format!("--cas-remote=http://127.0.0.1:{port}"))
            .arg(format!("--bind=unix:{}", socket.display()))
            .arg(scratch.join("proxy-cache"))
            .stdout(proxy_log.try_clone().unwrap())
            .stderr(proxy_log)
            .spawn()
            .expect("start the casd proxy");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !socket.exists() {
            assert!(std::time::Instant::now() < deadline, "the casd proxy did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let proxy = ServerProcess::running(proxy);
        let python = bgd.parent().unwrap().join("python3");
        let bot_log = std::fs::File::create(scratch.join("bot.log")).unwrap();
        std::fs::create_dir_all(scratch.join("bot")).unwrap();
        let bot = Command::new(python)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/data/bgd_bot.py"))
            .arg(format!("127.0.0.1:{port}"))
            .arg(&socket)
            .arg(casd.parent().unwrap().join("buildbox-run"))
            .arg(scratch.join("bot"))
            .stdout(bot_log.try_clone().unwrap())
            .stderr(bot_log)
            .spawn()
            .expect("start the worker");
        BuildGridExecution {
            _bot: ServerProcess::running(bot),
            _proxy: proxy,
            _server: server,
            _postgres: postgres,
            port,
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
