//! Server-sent event streams read by polling the database: the IOC live feed and the alert
//! stream. Polling a table by its event id works the same on both databases and across several
//! instances behind a load balancer, and keeps a change under a second from the operator's
//! screen; the SSE event id is that id, so a browser that reconnects (sending `Last-Event-ID`)
//! misses nothing.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use crate::error::ApiError;

/// How often a stream looks for new events.
const POLL: Duration = Duration::from_millis(250);
/// The most events read by one poll.
const BATCH: i64 = 200;

/// The event id a reconnecting client resumes after (`Last-Event-ID`), if it sent one.
pub(crate) fn last_event_id(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    match headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        Some(v) => {
            v.trim().parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!("Last-Event-ID '{v}' is not an event id"))
            })
        }
        None => Ok(None),
    }
}

/// The events after `start`, oldest first, for as long as the client listens: `fetch(after,
/// limit)` reads the next items after an id, `id` and `event` give an item's id and its SSE
/// event. A failed poll is logged (as `name`) and retried at the next tick.
pub(crate) fn polled<T, E, F, Fut>(
    name: &'static str,
    start: i64,
    fetch: F,
    id: fn(&T) -> i64,
    event: fn(&T) -> Event,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>>
where
    T: Send + 'static,
    E: Display,
    F: Fn(i64, i64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Vec<T>, E>> + Send,
{
    let stream = futures_util::stream::unfold(
        (fetch, start, VecDeque::new(), true),
        move |(fetch, mut last, mut pending, mut first)| async move {
            loop {
                if let Some(item) = pending.pop_front() {
                    let next = event(&item);
                    return Some((Ok(next), (fetch, last, pending, first)));
                }
                if !first {
                    tokio::time::sleep(POLL).await;
                }
                first = false;
                match fetch(last, BATCH).await {
                    Ok(items) => {
                        if let Some(newest) = items.last() {
                            last = id(newest);
                        }
                        pending.extend(items);
                    }
                    Err(e) => tracing::warn!(error = %e, "{name} poll failed; retrying"),
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}
