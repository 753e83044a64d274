//! Distances on the sphere, for duplicate suggestions and locating a report's commune.
//!
//! Only the haversine distance is needed; the `geo` crate would bring R-trees and
//! projections we do not use, so these few lines are written here.

const EARTH_RADIUS_M: f64 = 6_371_008.8;

pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// A latitude/longitude box that contains every point within `radius_m` of the centre, used
/// to pre-filter candidates with an index before the exact distance is computed.
pub fn bounding_box(lat: f64, lon: f64, radius_m: f64) -> (f64, f64, f64, f64) {
    let dlat = (radius_m / EARTH_RADIUS_M).to_degrees();
    let dlon = dlat / lat.to_radians().cos().max(0.01);
    (lat - dlat, lat + dlat, lon - dlon, lon + dlon)
}

pub fn valid_coordinates(lat: f64, lon: f64) -> bool {
    lat.is_finite()
        && lon.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lon)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_between_truong_tien_bridge_and_dong_ba_market_is_about_700_m() {
        let d = haversine_m(16.4698, 107.5905, 16.4737, 107.5846);
        assert!((650.0..800.0).contains(&d), "{d}");
    }

    #[test]
    fn bounding_box_contains_the_radius() {
        let (lat0, lat1, lon0, lon1) = bounding_box(16.46, 107.59, 100.0);
        assert!(haversine_m(16.46, 107.59, lat1, 107.59) >= 99.0);
        assert!(haversine_m(16.46, 107.59, 16.46, lon1) >= 99.0);
        assert!(lat0 < 16.46 && lon0 < 107.59);
    }
}
