//! The IPC bus passes the bus conformance suite every adapter runs (DESIGN.md §2.7), through
//! the same framing, per-subscriber queues and writer tasks that serve other processes.

use std::sync::Arc;

use angzarr_bus_ipc::IpcBus;
use angzarr_runtime::bus::EventBus;
use angzarr_runtime::bus::conformance::BusFactory;
use async_trait::async_trait;

struct Ipc;

#[async_trait]
impl BusFactory for Ipc {
    async fn bus(&self, capacity: usize) -> Arc<dyn EventBus> {
        Arc::new(IpcBus::new("conformance", 0, capacity))
    }
}

angzarr_runtime::event_bus_conformance!(Ipc);
