//! Commands emitted by sagas and process managers: how they are stamped and executed.
//!
//! Every emitted command carries the source event's correlation id, the source event as its
//! causation and `saga_origin`, and, unless the component chose one, the idempotency key
//! `<component>:<source position>:<index>`. A redelivery of the source event after a crash
//! therefore re-sends the same keys, and the aggregate answers them from its idempotency
//! records instead of executing them again (DESIGN.md §2.5). Emitted commands run without a
//! sync mode: a synchronous caller's cascade is driven from the top (see
//! [`crate::router::Dispatcher`]), never from inside a delivery, so deliveries cannot wait on
//! each other.

use angzarr_proto::{
    Causation, CommandBook, CommandRejection, CommandResponse, EventBook, EventPageExt, EventRef,
    SagaCommandOrigin, SyncMode, causation,
};

use async_trait::async_trait;
use tracing::warn;

use crate::error::{Error, Result};
use crate::router::CommandExecutor;

/// The source event of a delivery of one event.
pub(crate) fn source_ref(book: &EventBook) -> Result<EventRef> {
    let cover = book.cover.as_ref();
    let page = book
        .pages
        .last()
        .ok_or_else(|| Error::InvalidArgument("a delivery without events".into()))?;
    Ok(EventRef {
        domain: cover.map(|c| c.domain.clone()).unwrap_or_default(),
        root: cover.and_then(|c| c.root.clone()),
        edition: cover.map(|c| c.edition.clone()).unwrap_or_default(),
        sequence: page.sequence_num().unwrap_or_default(),
        position: page.position,
    })
}

/// Where an emitted command comes from.
struct EmittedCommand {
    pub(crate) component: String,
    pub(crate) correlation_id: String,
    pub(crate) source: EventRef,
    /// Default idempotency key.
    pub(crate) key: String,
}

impl EmittedCommand {
    /// The `index`-th command emitted by `component` for the event `source` of `book`; keys
    /// start with `key_prefix` (the subscriber's checkpoint name: positions are per log).
    pub(crate) fn new(
        component: &str,
        key_prefix: &str,
        book: &EventBook,
        source: &EventRef,
        index: String,
    ) -> Self {
        Self {
            component: component.to_string(),
            correlation_id: book
                .cover
                .as_ref()
                .map(|c| c.correlation_id.clone())
                .unwrap_or_default(),
            key: format!("{key_prefix}:{}:{index}", source.position),
            source: source.clone(),
        }
    }

    /// The command with correlation, causation, origin, key and sync mode set.
    pub(crate) fn stamp(&self, mut command: CommandBook) -> CommandBook {
        command.cover.get_or_insert_default().correlation_id = self.correlation_id.clone();
        if command.idempotency_key.is_empty() {
            command.idempotency_key = self.key.clone();
        }
        command.causation = Some(Causation {
            cause: Some(causation::Cause::Event(self.source.clone())),
        });
        command.saga_origin = Some(SagaCommandOrigin {
            saga_name: self.component.clone(),
            triggering_event: Some(self.source.clone()),
        });
        command.sync_mode = SyncMode::None as i32;
        command
    }
}

/// What became of an emitted command.
// A short-lived return value; boxing either side would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Executed {
    Accepted(CommandResponse),
    /// The aggregate refused it; the component is told.
    Rejected(Box<CommandRejection>),
}

/// Executes an emitted command (already [stamped](EmittedCommand::stamp)). A business rejection (or a stale expected
/// sequence the component chose) is an answer, not a failure; other errors are returned for
/// the delivery to retry or park.
async fn execute_emitted(
    executor: &dyn CommandExecutor,
    emitted: &EmittedCommand,
    command: CommandBook,
    trigger: &EventBook,
) -> Result<Executed> {
    match executor.execute(command.clone()).await {
        Ok(response) => Ok(Executed::Accepted(response)),
        Err(Error::Rejected { code, message }) if is_business_rejection(code) => {
            Ok(Executed::Rejected(Box::new(CommandRejection {
                command: Some(command),
                code: code as i32,
                message,
                source: Some(emitted.source.clone()),
                source_event: Some(trigger.clone()),
            })))
        }
        Err(err @ Error::Conflict { .. }) => Ok(Executed::Rejected(Box::new(CommandRejection {
            command: Some(command),
            code: tonic::Code::Aborted as i32,
            message: err.to_string(),
            source: Some(emitted.source.clone()),
            source_event: Some(trigger.clone()),
        }))),
        Err(err) => Err(err),
    }
}

/// Status codes business logic uses to refuse a command. Anything else from an aggregate
/// (INTERNAL, UNKNOWN, ...) is a fault to retry and, if it persists, park.
fn is_business_rejection(code: tonic::Code) -> bool {
    use tonic::Code;
    matches!(
        code,
        Code::FailedPrecondition
            | Code::InvalidArgument
            | Code::OutOfRange
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::Aborted
    )
}

/// What a component is told when one of its commands is rejected: it answers with
/// compensating commands (or none).
#[async_trait]
pub(crate) trait Compensator: Send + Sync {
    async fn compensate(&self, rejection: CommandRejection) -> Result<Vec<CommandBook>>;
}

/// The commands a component emitted for one source event, as sent, and the answers of the
/// accepted ones.
#[derive(Debug, Default)]
pub(crate) struct EmittedRun {
    pub(crate) sent: Vec<CommandBook>,
    pub(crate) responses: Vec<CommandResponse>,
}

/// Stamps and executes the commands `component` emitted for the event `source` of
/// `trigger`, in order; each rejected one goes to `compensator`, whose commands are executed
/// the same way (keys `<index>:compensate:<n>`). A rejected compensation is logged and left
/// there. Any other failure is returned, for the delivery to retry: the commands already
/// executed are answered from their idempotency records the next time.
pub(crate) async fn run_emitted(
    executor: &dyn CommandExecutor,
    component: &str,
    key_prefix: &str,
    trigger: &EventBook,
    source: &EventRef,
    commands: Vec<CommandBook>,
    compensator: &dyn Compensator,
) -> Result<EmittedRun> {
    let mut run = EmittedRun::default();
    for (index, command) in commands.into_iter().enumerate() {
        let emitted =
            EmittedCommand::new(component, key_prefix, trigger, source, index.to_string());
        let Some(rejection) = run.execute(executor, &emitted, command, trigger).await? else {
            continue;
        };
        let compensations = compensator.compensate(*rejection).await?;
        for (step, compensation) in compensations.into_iter().enumerate() {
            let emitted = EmittedCommand::new(
                component,
                key_prefix,
                trigger,
                source,
                format!("{index}:compensate:{step}"),
            );
            if let Some(again) = run
                .execute(executor, &emitted, compensation, trigger)
                .await?
            {
                warn!(
                    component,
                    correlation_id = %emitted.correlation_id,
                    code = again.code,
                    message = %again.message,
                    "a compensating command was rejected as well; nothing more is tried"
                );
            }
        }
    }
    Ok(run)
}

impl EmittedRun {
    /// Executes one command; returns its rejection, if it was rejected.
    async fn execute(
        &mut self,
        executor: &dyn CommandExecutor,
        emitted: &EmittedCommand,
        command: CommandBook,
        trigger: &EventBook,
    ) -> Result<Option<Box<CommandRejection>>> {
        let command = emitted.stamp(command);
        self.sent.push(command.clone());
        Ok(
            match execute_emitted(executor, emitted, command, trigger).await? {
                Executed::Accepted(response) => {
                    self.responses.push(response);
                    None
                }
                Executed::Rejected(rejection) => Some(rejection),
            },
        )
    }
}

/// The `index`-th command `component` emits for the event `source` of `trigger`, stamped as a
/// delivery stamps it; speculative runs report it without executing it.
pub(crate) fn stamp_emitted(
    component: &str,
    trigger: &EventBook,
    source: &EventRef,
    index: usize,
    command: CommandBook,
) -> CommandBook {
    EmittedCommand::new(component, component, trigger, source, index.to_string()).stamp(command)
}
