//! `dothi open-data` as an operator runs it: every published file and its metadata, written
//! from a seeded database on both backends, without the demo reporters' names.

use std::process::Command;

use dothi_store::testing::{TestDb, BACKENDS};

const BIN: &str = env!("CARGO_BIN_EXE_dothi");

fn run(args: &[&str], db: &str) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", db)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run dothi");
    assert!(
        out.status.success(),
        "dothi {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn open_data_writes_every_published_file_with_its_metadata() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        run(&["seed", "--reports", "60", "--seed", "7"], &db.url);
        let dir = std::env::temp_dir().join(format!(
            "dothi-open-data-{}-{backend:?}",
            std::process::id()
        ));
        let printed = run(&["open-data", "--out", dir.to_str().unwrap()], &db.url);
        let listed: Vec<&str> = printed
            .lines()
            .map(|l| l.rsplit('/').next().unwrap())
            .collect();
        // The statistics' rows depend on the months the generator spreads reports over.
        assert!(listed[0].starts_with("field-report-statistics.csv\t"));
        assert!(listed[1].starts_with("field-report-statistics.json\t"));
        assert_eq!(
            listed[2..],
            [
                "field-reports.csv\t60 rows",
                "field-reports.json\t60 rows",
                "sensor-daily.csv\t0 rows",
                "sensor-daily.json\t0 rows",
                "agencies.csv\t69 rows",
                "agencies.json\t69 rows",
                "categories.csv\t18 rows",
                "categories.json\t18 rows",
                "admin-units.csv\t40 rows",
                "admin-units.json\t40 rows",
            ],
            "{backend:?}"
        );
        let reports = std::fs::read_to_string(dir.join("field-reports.csv")).unwrap();
        assert!(reports.starts_with("received_date,category_code,category_name,commune_code,"));
        assert_eq!(reports.matches("\r\n").count(), 61);
        // The demo generator's reporters.
        for name in [
            "Nguyễn Thị Hoa",
            "Trần Văn Minh",
            "Lê Thị Thu",
            "Phạm Quốc Bảo",
        ] {
            for file in std::fs::read_dir(&dir).unwrap() {
                let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
                assert!(!text.contains(name), "{backend:?}: {name}");
            }
        }
        let meta: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join("field-reports-anonymised.meta.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(meta["name"], "field-reports-anonymised");
        assert_eq!(meta["licence_id"], "cc-by-4.0");
        assert_eq!(
            meta["title"]["vi"],
            "Danh sách phản ánh hiện trường (đã ẩn danh)"
        );
        assert_eq!(meta["resources"][0]["name"], "field-reports.csv");
        assert_eq!(
            meta["resources"][0]["media_type"],
            "text/csv; charset=utf-8"
        );
        assert_eq!(meta["resources"][0]["row_count"], 60);
        assert_eq!(meta["resources"][0]["columns"][0]["name"], "received_date");
        assert_eq!(meta["resources"][0]["columns"][0]["type"], "date");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
