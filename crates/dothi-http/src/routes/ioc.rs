//! The operations centre's figures: KPIs, daily trend and the agency ranking, with the
//! dashboard's filters (period, agency, commune, category, channel).

use std::convert::Infallible;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use axum::{Json, Router};
use dothi_store::kpi::{AgencyRank, FeedItem, KpiFilter, Kpis, TrendPoint};
use serde::{Deserialize, Serialize};

use super::sse;
use crate::error::ApiResult;
use crate::extract::ApiQuery;
use crate::state::{AppState, Caller};
use crate::views::ts;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ioc/kpis", get(kpis))
        .route("/ioc/trend", get(trend))
        .route("/ioc/ranking", get(ranking))
        .route("/ioc/feed", get(feed))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterQuery {
    from: Option<String>,
    to: Option<String>,
    agency: Option<String>,
    commune: Option<String>,
    category: Option<String>,
    channel: Option<String>,
}

#[derive(Serialize)]
struct Period {
    from: String,
    to: String,
}

#[derive(Serialize)]
struct Answer<T: Serialize> {
    period: Period,
    #[serde(flatten)]
    body: T,
}

/// The filter from the query; the period defaults to the last 30 days.
fn filter(state: &AppState, q: &FilterQuery) -> ApiResult<KpiFilter> {
    super::ioc_views::filter(
        &state.store.reference(),
        &super::ioc_views::FilterParams {
            from: q.from.as_deref(),
            to: q.to.as_deref(),
            agency: q.agency.as_deref(),
            commune: q.commune.as_deref(),
            category: q.category.as_deref(),
            channel: q.channel.as_deref(),
        },
    )
}

fn answer<T: Serialize>(f: &KpiFilter, body: T) -> Json<Answer<T>> {
    Json(Answer {
        period: Period {
            from: ts(f.from),
            to: ts(f.to),
        },
        body,
    })
}

async fn kpis(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<FilterQuery>,
) -> ApiResult<Json<Answer<Kpis>>> {
    caller.require()?;
    let f = filter(&state, &q)?;
    let body = state.store.kpis(&caller.actor(), &f).await?;
    Ok(answer(&f, body))
}

#[derive(Serialize)]
struct Trend {
    days: Vec<TrendPoint>,
}

async fn trend(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<FilterQuery>,
) -> ApiResult<Json<Answer<Trend>>> {
    caller.require()?;
    let f = filter(&state, &q)?;
    let days = state.store.trend(&caller.actor(), &f).await?;
    Ok(answer(&f, Trend { days }))
}

#[derive(Serialize)]
struct Ranking {
    agencies: Vec<AgencyRank>,
}

async fn ranking(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<FilterQuery>,
) -> ApiResult<Json<Answer<Ranking>>> {
    caller.require()?;
    let f = filter(&state, &q)?;
    let agencies = state.store.agency_ranking(&caller.actor(), &f).await?;
    Ok(answer(&f, Ranking { agencies }))
}

/// Server-sent events: one `report` event per history entry, oldest first, whose id is the
/// history id (see [`sse`]).
async fn feed(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>> {
    let actor = caller.require()?.actor();
    // Refuse citizens before the stream starts, with a proper status code.
    state.store.feed_after(&actor, i64::MAX, 1).await?;
    let start = match sse::last_event_id(&headers)? {
        Some(id) => id,
        None => state.store.last_event_id().await?,
    };
    let store = state.store.clone();
    let fetch = move |after, limit| {
        let (store, actor) = (store.clone(), actor.clone());
        async move { store.feed_after(&actor, after, limit).await }
    };
    Ok(sse::polled(
        "live feed",
        start,
        fetch,
        |i| i.event_id,
        feed_event,
    ))
}

fn feed_event(item: &FeedItem) -> Event {
    let data = serde_json::json!({
        "event_id": item.event_id,
        "report_id": item.report_id,
        "action": item.action,
        "status": item.to_status,
        "category": item.category_code,
        "agency": item.agency_code,
        "commune": item.commune_code,
        "priority": item.priority,
        "channel": item.channel,
        "at": ts(item.at),
    });
    Event::default()
        .id(item.event_id.to_string())
        .event("report")
        .data(data.to_string())
}
