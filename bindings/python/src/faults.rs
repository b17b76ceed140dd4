//! Fault injection for the test suite (`Sync._faults()`): what a crash, a
//! network partition or an expired lease looks like, without waiting for one.

use pyo3::prelude::*;
use vinesync::Client;

use crate::runtime::wait;

/// Test hooks of one handle. Not part of the public API.
#[pyclass(frozen, module = "vinesync")]
pub struct Faults {
    client: Client,
}

impl Faults {
    pub fn new(client: Client) -> Self {
        Faults { client }
    }
}

#[pymethods]
impl Faults {
    /// Stops (or resumes) sending lease keepalives, as a partition would.
    fn suspend_keepalive(&self, suspended: bool) {
        self.client.faults().suspend_keepalive(suspended);
    }

    /// Acts as if the process died: stops keepalives and forgets
    /// everything without revoking leases (they expire after their TTL).
    fn crash(&self, py: Python<'_>) -> PyResult<()> {
        let client = self.client.clone();
        wait(py, async move {
            client.faults().crash().await;
            Ok(())
        })
    }

    /// Expires this handle's leases now (as if the TTL had passed).
    fn expire_leases(&self, py: Python<'_>) -> PyResult<()> {
        let client = self.client.clone();
        wait(py, async move { client.faults().expire_leases().await })
    }

    /// Deletes `key` if its create revision is `create_revision`, as another
    /// process or an operator might.
    fn delete_key(&self, py: Python<'_>, key: String, create_revision: i64) -> PyResult<bool> {
        let client = self.client.clone();
        wait(py, async move {
            client.faults().delete_key(&key, create_revision).await
        })
    }

    /// Every key under the handle's prefix.
    fn keys(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let client = self.client.clone();
        let keys = wait(py, async move { client.faults().keys().await })?;
        Ok(keys.into_iter().map(|kv| kv.key).collect())
    }
}
