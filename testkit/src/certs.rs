//! Test certificates made with the `openssl` command line: a CA, a server
//! certificate for 127.0.0.1/localhost, a client certificate, and a second,
//! unrelated CA with a client certificate of its own (the "wrong" ones).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Paths of the PEM files of one test PKI.
#[derive(Debug, Clone)]
pub struct Certs {
    /// The CA that signed the server and client certificates.
    pub ca: PathBuf,
    /// The server certificate (SAN IP:127.0.0.1, DNS:localhost) and key.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// A client certificate (CN `vinesync-client`) signed by `ca`, and key.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA that signed nothing the server trusts or presents.
    pub other_ca: PathBuf,
    /// A client certificate signed by `other_ca`, and key.
    pub other_client_cert: PathBuf,
    pub other_client_key: PathBuf,
}

fn openssl(args: &[&str]) -> std::io::Result<()> {
    let output = Command::new("openssl").args(args).output().map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("running openssl failed ({e}); is it installed?"),
        )
    })?;
    if output.status.success() {
        return Ok(());
    }
    Err(std::io::Error::other(format!(
        "openssl {} failed: {}",
        args.first().copied().unwrap_or_default(),
        String::from_utf8_lossy(&output.stderr).trim()
    )))
}

fn path_str(path: &Path) -> std::io::Result<&str> {
    path.to_str()
        .ok_or_else(|| std::io::Error::other(format!("{} is not UTF-8", path.display())))
}

/// A self-signed CA: (certificate, key).
fn make_ca(dir: &Path, name: &str) -> std::io::Result<(PathBuf, PathBuf)> {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-noenc",
        "-keyout",
        path_str(&key)?,
        "-out",
        path_str(&cert)?,
        "-days",
        "2",
        "-subj",
        &format!("/CN=vinesync test {name}"),
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ])?;
    Ok((cert, key))
}

/// A certificate signed by `ca`: (certificate, key).
fn make_leaf(
    dir: &Path,
    name: &str,
    subject: &str,
    extensions: &str,
    ca: &(PathBuf, PathBuf),
) -> std::io::Result<(PathBuf, PathBuf)> {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let (csr, ext) = (
        dir.join(format!("{name}.csr")),
        dir.join(format!("{name}.ext")),
    );
    std::fs::write(&ext, extensions)?;
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-noenc",
        "-keyout",
        path_str(&key)?,
        "-out",
        path_str(&csr)?,
        "-subj",
        subject,
    ])?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        path_str(&csr)?,
        "-CA",
        path_str(&ca.0)?,
        "-CAkey",
        path_str(&ca.1)?,
        "-CAcreateserial",
        "-out",
        path_str(&cert)?,
        "-days",
        "2",
        "-extfile",
        path_str(&ext)?,
    ])?;
    Ok((cert, key))
}

impl Certs {
    /// Makes the files in `dir` (created if missing).
    pub fn generate(dir: &Path) -> std::io::Result<Certs> {
        std::fs::create_dir_all(dir)?;
        let ca = make_ca(dir, "ca")?;
        let server = make_leaf(
            dir,
            "server",
            "/CN=localhost",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n",
            &ca,
        )?;
        let client_ext = "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n";
        let client = make_leaf(dir, "client", "/CN=vinesync-client", client_ext, &ca)?;
        let other_ca = make_ca(dir, "other-ca")?;
        let other = make_leaf(
            dir,
            "other-client",
            "/CN=vinesync-client",
            client_ext,
            &other_ca,
        )?;
        Ok(Certs {
            ca: ca.0,
            server_cert: server.0,
            server_key: server.1,
            client_cert: client.0,
            client_key: client.1,
            other_ca: other_ca.0,
            other_client_cert: other.0,
            other_client_key: other.1,
        })
    }
}
