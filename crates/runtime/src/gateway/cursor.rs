//! `Query` as a cursor over the store: one aggregate's history (optionally one correlation id
//! of it), or one workflow's events across every domain in global order. Pages are read one at
//! a time, so neither a long history nor a long workflow is ever built whole in memory.

use std::sync::Arc;

use angzarr_proto::{Query, UuidExt};
use tonic::Status;

use super::{GatewayService, PAGE, Selection};
use crate::error::Error;
use crate::storage::{EventStore, HistoryKey, StoredEvent, validate_edition_name};
use crate::subscription::Editions;

/// Where a query reads next.
pub(super) enum QueryCursor {
    History {
        store: Arc<dyn EventStore>,
        key: HistoryKey,
        selection: Selection,
        correlation_id: Option<String>,
        from: u32,
        done: bool,
    },
    Correlation {
        store: Arc<dyn EventStore>,
        correlation_id: String,
        domain: Option<String>,
        editions: Editions,
        after: u64,
        done: bool,
    },
}

fn status(err: impl Into<Error>) -> Status {
    err.into().to_status()
}

impl QueryCursor {
    /// Checks `query` against what exists here and positions the cursor at its start.
    pub(super) async fn open(gateway: &GatewayService, query: Query) -> Result<Self, Status> {
        let cover = query.cover.ok_or_else(|| {
            Status::invalid_argument(
                "the query has no cover (domain and root, or a correlation id)",
            )
        })?;
        if !cover.edition.is_empty() {
            validate_edition_name(&cover.edition).map_err(status)?;
        }
        let correlation_id = Some(cover.correlation_id.clone()).filter(|c| !c.is_empty());
        let Some(root) = cover.root.as_ref() else {
            let Some(correlation_id) = correlation_id else {
                return Err(Status::invalid_argument(
                    "the query names neither an aggregate (domain and root) nor a correlation id",
                ));
            };
            if query.selection.is_some() {
                return Err(Status::invalid_argument(
                    "a correlation query takes no range, sequences or as-of point (those select within one aggregate's history)",
                ));
            }
            let domain = Some(cover.domain).filter(|d| !d.is_empty());
            if let Some(domain) = &domain {
                gateway.check_domain(domain)?;
            }
            return Ok(QueryCursor::Correlation {
                store: gateway.store.clone(),
                correlation_id,
                domain,
                editions: Editions::of(std::slice::from_ref(&cover.edition)),
                after: 0,
                done: false,
            });
        };
        gateway.check_domain(&cover.domain)?;
        let root = root
            .to_uuid()
            .map_err(|e| Status::invalid_argument(format!("invalid root: {e}")))?;
        let key = HistoryKey::main(cover.domain.clone(), root).with_edition(cover.edition);
        if !key.is_main() && gateway.store.edition(&key).await.map_err(status)?.is_none() {
            return Err(Status::not_found(format!(
                "no edition {:?} of {}/{}",
                key.edition, key.domain, key.root
            )));
        }
        let selection = Selection::of(query.selection)?;
        Ok(QueryCursor::History {
            store: gateway.store.clone(),
            key,
            from: selection.from(),
            selection,
            correlation_id,
            done: false,
        })
    }

    /// The next non-empty page of events, or `None` at the end.
    pub(super) async fn next_page(&mut self) -> Result<Option<Vec<StoredEvent>>, Status> {
        loop {
            let page = match self {
                QueryCursor::History {
                    store,
                    key,
                    selection,
                    correlation_id,
                    from,
                    done,
                } => {
                    if *done {
                        return Ok(None);
                    }
                    let to = selection.to().map_or(from.saturating_add(PAGE), |to| {
                        to.min(from.saturating_add(PAGE))
                    });
                    if *from >= to {
                        return Ok(None);
                    }
                    let events = store
                        .read_history(key, *from, Some(to))
                        .await
                        .map_err(status)?;
                    let Some(last) = events.last().map(|e| e.sequence) else {
                        return Ok(None);
                    };
                    let (mut kept, ends) = selection.keep(events);
                    *done = ends || last == u32::MAX;
                    *from = last.saturating_add(1);
                    if let Some(correlation_id) = correlation_id {
                        kept.retain(|e| &e.correlation_id == correlation_id);
                    }
                    kept
                }
                QueryCursor::Correlation {
                    store,
                    correlation_id,
                    domain,
                    editions,
                    after,
                    done,
                } => {
                    if *done {
                        return Ok(None);
                    }
                    let events = store
                        .read_correlated(correlation_id, *after, PAGE as usize)
                        .await
                        .map_err(status)?;
                    let Some(last) = events.last().map(|e| e.position) else {
                        return Ok(None);
                    };
                    *after = last;
                    *done = events.len() < PAGE as usize;
                    events
                        .into_iter()
                        .filter(|e| domain.as_ref().is_none_or(|d| &e.key.domain == d))
                        .filter(|e| editions.allows(&e.key.edition))
                        .collect()
                }
            };
            if !page.is_empty() {
                return Ok(Some(page));
            }
        }
    }
}
