//! Writes the fixture catalogue's DCAT-AP documents into a directory, for the interop test
//! (`tests/interop/test_dcat_shacl.py`) to validate against the DCAT-AP 3 SHACL shapes until the
//! HTTP endpoints serve the real catalogue.
//!
//! `cargo run -p dothi-dcat --example fixture -- DIR` writes `catalog.ttl` and `catalog.jsonld`
//! (page 1), `catalog-page-2.ttl`, `dataset.ttl` and `dataset.jsonld` (the first dataset).

#[path = "../tests/fixture/mod.rs"]
mod fixture;

use std::path::PathBuf;

use dothi_dcat::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: fixture DIR")?);
    std::fs::create_dir_all(&dir)?;
    let catalog = fixture::catalog();
    let datasets = fixture::datasets();
    let page = |n: u64, paging: Paging| {
        let on_page = fixture::page_datasets(&datasets, n).to_vec();
        (on_page, paging)
    };
    let write_turtle = |file: &str, (on_page, paging): (Vec<Dataset>, Paging)| {
        let page = CatalogPage {
            catalog: &catalog,
            datasets: &on_page,
            paging: &paging,
        };
        std::fs::write(dir.join(file), catalog_page_turtle(&page)?)?;
        Ok::<_, Box<dyn std::error::Error>>(())
    };
    write_turtle("catalog.ttl", page(1, fixture::paging(1, "ttl")))?;
    write_turtle("catalog-page-2.ttl", page(2, fixture::paging(2, "ttl")))?;
    let (on_page, paging) = page(1, fixture::paging(1, "jsonld"));
    let page1 = CatalogPage {
        catalog: &catalog,
        datasets: &on_page,
        paging: &paging,
    };
    let jsonld = catalog_page_jsonld(&page1)?;
    std::fs::write(
        dir.join("catalog.jsonld"),
        serde_json::to_string_pretty(&jsonld)?,
    )?;
    std::fs::write(dir.join("dataset.ttl"), dataset_turtle(&datasets[0])?)?;
    let jsonld = dataset_jsonld(&datasets[0])?;
    std::fs::write(
        dir.join("dataset.jsonld"),
        serde_json::to_string_pretty(&jsonld)?,
    )?;
    Ok(())
}
