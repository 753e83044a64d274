//! A rough check of package_search with facets over 10,000 datasets (the benchmark in bench/
//! measures it properly). Ignored by default: `cargo test -p dothi-ckan --release --test
//! search_speed -- --ignored --nocapture`
//! (`DOTHI_SPEED_BACKEND=sqlite` or `postgres` for one backend).

mod common;

use common::App;
use dothi_catalog::access::Viewer;
use serde_json::json;

#[tokio::test]
#[ignore]
async fn package_search_with_facets_over_10000_datasets() {
    let only = std::env::var("DOTHI_SPEED_BACKEND").unwrap_or_default();
    for backend in common::BACKENDS {
        if !only.is_empty() && !format!("{backend:?}").eq_ignore_ascii_case(&only) {
            continue;
        }
        let app = App::new(backend).await;
        let system = Viewer::system();
        let orgs = [
            "hepco", "huewaco", "snnmt", "sxd", "syt", "sdl", "ioc", "vpub",
        ];
        let tags = [
            "môi trường",
            "giao thông",
            "y tế",
            "du lịch",
            "nước",
            "rác thải",
            "chiếu sáng",
            "giáo dục",
        ];
        let formats = ["csv", "json", "xlsx", "pdf"];
        let started = std::time::Instant::now();
        for i in 0..10_000usize {
            let package = json!({
                "name": format!("bo-du-lieu-{i:05}"),
                "title": format!("Bộ dữ liệu số {i} về {}", tags[i % tags.len()]),
                "notes": "Dữ liệu thử nghiệm của thành phố Huế, cập nhật hằng tháng.",
                "owner_org": orgs[i % orgs.len()],
                "private": i % 10 == 0,
                "license_id": "cc-by-4.0",
                "tags": [{"name": tags[i % tags.len()]}, {"name": tags[(i / 3) % tags.len()]}],
                "resources": [{"url": format!("https://x.vn/{i}.{}", formats[i % formats.len()])}]
            });
            let input = dothi_catalog::input::package(package.as_object().unwrap()).unwrap();
            app.store
                .catalog_create_dataset(&system, input)
                .await
                .unwrap();
        }
        eprintln!(
            "{backend:?}: 10,000 datasets created in {:?}",
            started.elapsed()
        );
        let facets = "facet.field=%5B%22organization%22%2C%22tags%22%2C%22res_format%22%2C%22license_id%22%5D";
        for (label, query) in [
            (
                "all, facets",
                format!("/api/3/action/package_search?{facets}"),
            ),
            (
                "q=giao thong, facets",
                format!("/api/3/action/package_search?q=giao%20thong&{facets}"),
            ),
            (
                "fq tags, facets",
                format!("/api/3/action/package_search?fq=tags:%22y%20t%E1%BA%BF%22&{facets}"),
            ),
            (
                "rows=1000",
                "/api/3/action/package_search?rows=1000".to_string(),
            ),
        ] {
            let mut times = vec![];
            for _ in 0..100 {
                let t = std::time::Instant::now();
                let (status, _) = app.get(&query, Some(&app.hepco)).await;
                assert!(status.is_success());
                times.push(t.elapsed());
            }
            times.sort();
            eprintln!(
                "{backend:?} {label}: p50 {:?} p99 {:?}",
                times[50], times[98]
            );
        }
    }
}
