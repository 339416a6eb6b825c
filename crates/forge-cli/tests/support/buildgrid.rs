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
        BuildGrid {
            _process: ServerProcess::listening(child, port, "BuildGrid", Duration::from_secs(60)),
            port,
        }
    }
}
