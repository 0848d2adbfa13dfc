//! The shop's components by name, behind small object-safe traits so that the steps drive any
//! aggregate, saga, process manager or projector the same way.

use angzarr_client::{CommandRouter, EventRouter, ProcessManagerRouter, ProjectorRouter, RowStore};
use angzarr_proto::{
    CommandRejection, ContextualCommand, EventBook, ProcessManagerRejectionRequest,
    ProcessManagerRequest, ProcessManagerResponse, SagaResponse,
};
use prost::{Message, Name};
use prost_types::Any;
use tonic::Status;

/// An aggregate: `CommandRouter<S>` with its state type erased.
pub trait Aggregate: Send + Sync {
    /// Runs the command against the state of the request's history: the new events (and the
    /// state after them), or the rejection.
    fn handle_command(&self, request: &ContextualCommand) -> Result<EventBook, Status>;
    /// The state after `history`, packed.
    fn state(&self, history: &EventBook) -> Result<Any, Status>;
}

impl<S> Aggregate for CommandRouter<S>
where
    S: Message + Name + Default + Clone + Send + Sync + 'static,
{
    fn handle_command(&self, request: &ContextualCommand) -> Result<EventBook, Status> {
        CommandRouter::handle_command(self, request)
    }

    fn state(&self, history: &EventBook) -> Result<Any, Status> {
        pack_state(&self.rebuild(history)?)
    }
}

/// A saga (`EventRouter`).
pub trait Saga: Send + Sync {
    /// The commands for the events of `book`.
    fn handle_event(&self, book: &EventBook) -> Result<SagaResponse, Status>;
    /// The compensating commands for a rejected command.
    fn handle_rejection(&self, rejection: &CommandRejection) -> Result<SagaResponse, Status>;
}

impl Saga for EventRouter {
    fn handle_event(&self, book: &EventBook) -> Result<SagaResponse, Status> {
        EventRouter::handle_event(self, book)
    }

    fn handle_rejection(&self, rejection: &CommandRejection) -> Result<SagaResponse, Status> {
        EventRouter::handle_rejection(self, rejection)
    }
}

/// A process manager: `ProcessManagerRouter<S>` with its state type erased.
pub trait ProcessManager: Send + Sync {
    /// Its name: the domain of its own history.
    fn name(&self) -> &str;
    /// New events of its own history and commands, for one trigger.
    fn handle_trigger(
        &self,
        request: &ProcessManagerRequest,
    ) -> Result<ProcessManagerResponse, Status>;
    /// The same, for the rejection of a command it sent.
    fn handle_rejection(
        &self,
        request: &ProcessManagerRejectionRequest,
    ) -> Result<ProcessManagerResponse, Status>;
    /// The state after its own `history`, packed.
    fn state(&self, history: &EventBook) -> Result<Any, Status>;
}

impl<S> ProcessManager for ProcessManagerRouter<S>
where
    S: Message + Name + Default + Send + Sync + 'static,
{
    fn name(&self) -> &str {
        ProcessManagerRouter::name(self)
    }

    fn handle_trigger(
        &self,
        request: &ProcessManagerRequest,
    ) -> Result<ProcessManagerResponse, Status> {
        ProcessManagerRouter::handle_trigger(self, request)
    }

    fn handle_rejection(
        &self,
        request: &ProcessManagerRejectionRequest,
    ) -> Result<ProcessManagerResponse, Status> {
        ProcessManagerRouter::handle_rejection(self, request)
    }

    fn state(&self, history: &EventBook) -> Result<Any, Status> {
        pack_state(&self.rebuild(history)?)
    }
}

/// A projector (`ProjectorRouter`).
pub trait Projector: Send + Sync {
    /// Applies the events of `book` to `rows`.
    fn handle(&self, rows: &mut RowStore, book: &EventBook) -> Result<Option<Any>, Status>;
}

impl Projector for ProjectorRouter {
    fn handle(&self, rows: &mut RowStore, book: &EventBook) -> Result<Option<Any>, Status> {
        ProjectorRouter::handle(self, rows, book)
    }
}

fn pack_state<S: Message + Name>(state: &S) -> Result<Any, Status> {
    Any::from_msg(state).map_err(|err| Status::internal(format!("cannot pack the state: {err}")))
}

type Make<T> = fn() -> Box<T>;

/// Aggregates by domain.
const AGGREGATES: &[(&str, Make<dyn Aggregate>)] = &[
    ("customer", || Box::new(example_customer::aggregate())),
    ("product", || Box::new(example_product::aggregate())),
    ("inventory", || Box::new(example_inventory::aggregate())),
    ("cart", || Box::new(example_cart::aggregate())),
    ("order", || Box::new(example_order::aggregate())),
    ("fulfillment", || Box::new(example_fulfillment::aggregate())),
];

/// Sagas by name.
const SAGAS: &[(&str, Make<dyn Saga>)] = &[
    ("saga-order-fulfillment", || {
        Box::new(example_saga_order_fulfillment::saga())
    }),
    ("saga-order-customer", || {
        Box::new(example_saga_order_customer::saga())
    }),
    ("saga-order-inventory", || {
        Box::new(example_saga_order_inventory::saga())
    }),
    ("saga-cart-inventory", || {
        Box::new(example_saga_cart_inventory::saga())
    }),
];

/// Process managers by name (without the crates' `pm-` prefix).
const PROCESS_MANAGERS: &[(&str, Make<dyn ProcessManager>)] = &[
    ("order-fulfillment", || {
        Box::new(example_pm_order_fulfillment::process_manager())
    }),
    ("order-status", || {
        Box::new(example_pm_order_status::process_manager())
    }),
];

/// Projectors by name.
const PROJECTORS: &[(&str, Make<dyn Projector>)] = &[
    ("projector-order-web", || {
        Box::new(example_projector_order_web::projector())
    }),
    ("projector-order-accounting", || {
        Box::new(example_projector_order_accounting::projector())
    }),
    ("projector-customer-loyalty", || {
        Box::new(example_projector_customer_loyalty::projector())
    }),
    ("projector-inventory-stock", || {
        Box::new(example_projector_inventory_stock::projector())
    }),
];

fn find<T: ?Sized>(kind: &str, table: &[(&str, Make<T>)], name: &str) -> Result<Box<T>, String> {
    match table.iter().find(|(known, _)| *known == name) {
        Some((_, make)) => Ok(make()),
        None => {
            let known: Vec<&str> = table.iter().map(|(known, _)| *known).collect();
            Err(format!(
                "no {kind} named {name} is registered (registered: {})",
                known.join(", ")
            ))
        }
    }
}

/// The aggregate of `domain`.
pub fn aggregate(domain: &str) -> Result<Box<dyn Aggregate>, String> {
    find("aggregate", AGGREGATES, domain)
}

/// The saga `name` (`saga-cart-inventory`).
pub fn saga(name: &str) -> Result<Box<dyn Saga>, String> {
    find("saga", SAGAS, name)
}

/// The process manager `name` (`order-fulfillment`, or its crate's name
/// `pm-order-fulfillment`).
pub fn process_manager(name: &str) -> Result<Box<dyn ProcessManager>, String> {
    find(
        "process manager",
        PROCESS_MANAGERS,
        name.strip_prefix("pm-").unwrap_or(name),
    )
}

/// The projector `name` (`projector-order-web`).
pub fn projector(name: &str) -> Result<Box<dyn Projector>, String> {
    find("projector", PROJECTORS, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_component_of_the_spec_is_registered() {
        for domain in [
            "customer",
            "product",
            "inventory",
            "cart",
            "order",
            "fulfillment",
        ] {
            assert!(aggregate(domain).is_ok(), "{domain}");
        }
        for name in [
            "saga-order-fulfillment",
            "saga-order-customer",
            "saga-order-inventory",
            "saga-cart-inventory",
        ] {
            assert!(saga(name).is_ok(), "{name}");
        }
        for name in ["order-fulfillment", "pm-order-status"] {
            assert!(process_manager(name).is_ok(), "{name}");
        }
        assert_eq!(
            process_manager("pm-order-status").map(|pm| pm.name().to_string()),
            Ok("order-status".into())
        );
        for name in [
            "projector-order-web",
            "projector-order-accounting",
            "projector-customer-loyalty",
            "projector-inventory-stock",
        ] {
            assert!(projector(name).is_ok(), "{name}");
        }
        let err = saga("saga-nothing").err().expect("unknown");
        assert!(
            err.starts_with(
                "no saga named saga-nothing is registered (registered: saga-order-fulfillment, "
            ),
            "{err}"
        );
    }
}
