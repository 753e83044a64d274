//! Parser for NGSI-LD geo-queries (ETSI GS CIM 009 v1.8, §4.10):
//! the `georel`, `geometry` and `coordinates` parameters.
//!
//! Validation performed: known relationship and geometry names; `near`
//! carries `maxDistance==N` or `minDistance==N` (one of them, a positive number)
//! and needs a `Point`; positions are `[lon, lat]` or `[lon, lat, alt]` with
//! longitude in [-180, 180] and latitude in [-90, 90]; line strings have at
//! least 2 positions; polygon rings have at least 4 positions and are closed.

use thiserror::Error;

/// The `georel` parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum GeoRel {
    Near(Distance),
    Within,
    Contains,
    Intersects,
    Equals,
    Disjoint,
    Overlaps,
}

/// Distances of `near`, in metres; at least one is present.
#[derive(Debug, Clone, PartialEq)]
pub struct Distance {
    pub max: Option<f64>,
    pub min: Option<f64>,
}

/// `[longitude, latitude(, altitude)]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub lon: f64,
    pub lat: f64,
    pub alt: Option<f64>,
}

impl Position {
    pub fn new(lon: f64, lat: f64) -> Self {
        Position {
            lon,
            lat,
            alt: None,
        }
    }
}

/// A validated GeoJSON geometry.
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    Point(Position),
    LineString(Vec<Position>),
    Polygon(Vec<Vec<Position>>),
    MultiPoint(Vec<Position>),
    MultiLineString(Vec<Vec<Position>>),
    MultiPolygon(Vec<Vec<Vec<Position>>>),
}

impl Geometry {
    pub fn type_name(&self) -> &'static str {
        match self {
            Geometry::Point(_) => "Point",
            Geometry::LineString(_) => "LineString",
            Geometry::Polygon(_) => "Polygon",
            Geometry::MultiPoint(_) => "MultiPoint",
            Geometry::MultiLineString(_) => "MultiLineString",
            Geometry::MultiPolygon(_) => "MultiPolygon",
        }
    }
}

/// A complete, validated geo-query.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoQuery {
    pub georel: GeoRel,
    pub geometry: Geometry,
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum GeoError {
    #[error("georel is empty")]
    EmptyGeorel,
    #[error("unknown georel '{0}': expected near, within, contains, intersects, equals, disjoint or overlaps")]
    UnknownGeorel(String),
    #[error("georel at position {position}: expected {expected}, found '{found}'")]
    Georel {
        position: usize,
        expected: &'static str,
        found: String,
    },
    #[error("georel at position {position}: {name} given twice")]
    DuplicateDistance { position: usize, name: &'static str },
    #[error("georel at position {position}: near takes one distance modifier, not two")]
    TwoDistances { position: usize },
    #[error("georel: minDistance {min} is greater than maxDistance {max}")]
    DistanceOrder { min: f64, max: f64 },
    #[error("unknown geometry '{0}': expected Point, LineString, Polygon, MultiPoint, MultiLineString or MultiPolygon")]
    UnknownGeometry(String),
    #[error("coordinates are not valid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: expected {expected}")]
    Coordinates {
        path: String,
        expected: &'static str,
    },
    #[error("{path}: longitude {value} outside [-180, 180]")]
    Longitude { path: String, value: f64 },
    #[error("{path}: latitude {value} outside [-90, 90]")]
    Latitude { path: String, value: f64 },
    #[error("{path}: expected at least {min} positions, found {found}")]
    TooFewPositions {
        path: String,
        min: usize,
        found: usize,
    },
    #[error("{path}: polygon ring is not closed (first and last positions differ)")]
    RingNotClosed { path: String },
    #[error("georel near needs a Point geometry, found {0}")]
    NearNeedsPoint(&'static str),
}

/// Parses the three geo-query parameters together and checks they agree.
pub fn parse(georel: &str, geometry: &str, coordinates: &str) -> Result<GeoQuery, GeoError> {
    let georel = parse_georel(georel)?;
    let geometry = parse_geometry(geometry, coordinates)?;
    if matches!(georel, GeoRel::Near(_)) && !matches!(geometry, Geometry::Point(_)) {
        return Err(GeoError::NearNeedsPoint(geometry.type_name()));
    }
    Ok(GeoQuery { georel, geometry })
}

/// Parses `georel`, e.g. `near;maxDistance==2000` or `within`.
pub fn parse_georel(input: &str) -> Result<GeoRel, GeoError> {
    if input.is_empty() {
        return Err(GeoError::EmptyGeorel);
    }
    let mut parts = Vec::new();
    let mut offset = 0;
    for part in input.split(';') {
        parts.push((offset, part));
        offset += part.chars().count() + 1;
    }
    let (_, name) = parts[0];
    let simple = match name {
        "near" => None,
        "within" => Some(GeoRel::Within),
        "contains" => Some(GeoRel::Contains),
        "intersects" => Some(GeoRel::Intersects),
        "equals" => Some(GeoRel::Equals),
        "disjoint" => Some(GeoRel::Disjoint),
        "overlaps" => Some(GeoRel::Overlaps),
        other => return Err(GeoError::UnknownGeorel(other.to_string())),
    };
    if let Some(rel) = simple {
        if let Some(&(position, _)) = parts.get(1) {
            return Err(GeoError::Georel {
                position: position - 1,
                expected: "end of georel",
                found: ";".into(),
            });
        }
        return Ok(rel);
    }
    if parts.len() == 1 {
        return Err(GeoError::Georel {
            position: offset - 1,
            expected: "';maxDistance==N' or ';minDistance==N' after near",
            found: "end of georel".into(),
        });
    }
    let mut distance = Distance {
        max: None,
        min: None,
    };
    for &(position, part) in &parts[1..] {
        let (name, slot, rest) = if let Some(rest) = part.strip_prefix("maxDistance") {
            ("maxDistance", &mut distance.max, rest)
        } else if let Some(rest) = part.strip_prefix("minDistance") {
            ("minDistance", &mut distance.min, rest)
        } else {
            return Err(GeoError::Georel {
                position,
                expected: "maxDistance or minDistance",
                found: part.to_string(),
            });
        };
        let value_pos = position + name.len() + 2;
        let Some(number) = rest.strip_prefix("==") else {
            return Err(GeoError::Georel {
                position: position + name.len(),
                expected: "'=='",
                found: rest.to_string(),
            });
        };
        let n = number
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n > 0.0 && !number.starts_with('+'))
            .ok_or_else(|| GeoError::Georel {
                position: value_pos,
                expected: "a positive number of metres",
                found: number.to_string(),
            })?;
        if slot.is_some() {
            return Err(GeoError::DuplicateDistance { position, name });
        }
        // §4.10 nearRel: exactly one distance modifier.
        if position != parts[1].0 {
            return Err(GeoError::TwoDistances { position });
        }
        *slot = Some(n);
    }
    if let (Some(min), Some(max)) = (distance.min, distance.max) {
        if min > max {
            return Err(GeoError::DistanceOrder { min, max });
        }
    }
    Ok(GeoRel::Near(distance))
}

/// Parses `geometry` and its JSON `coordinates`.
pub fn parse_geometry(geometry: &str, coordinates: &str) -> Result<Geometry, GeoError> {
    match geometry {
        "Point" | "LineString" | "MultiPoint" | "Polygon" | "MultiLineString" | "MultiPolygon" => {}
        other => return Err(GeoError::UnknownGeometry(other.to_string())),
    };
    let json: serde_json::Value =
        serde_json::from_str(coordinates).map_err(|e| GeoError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
    parse_geometry_value(geometry, &json)
}

/// Validates a GeoJSON geometry given as its `type` and already-parsed `coordinates` (the
/// value of a GeoProperty).
pub fn parse_geometry_value(
    geometry: &str,
    json: &serde_json::Value,
) -> Result<Geometry, GeoError> {
    match geometry {
        "Point" | "LineString" | "MultiPoint" | "Polygon" | "MultiLineString" | "MultiPolygon" => {}
        other => return Err(GeoError::UnknownGeometry(other.to_string())),
    };
    let root = "coordinates".to_string();
    Ok(match geometry {
        "Point" => Geometry::Point(position(json, &root)?),
        "LineString" => Geometry::LineString(line(json, &root, 2)?),
        "MultiPoint" => Geometry::MultiPoint(line(json, &root, 1)?),
        "Polygon" => Geometry::Polygon(polygon(json, &root)?),
        "MultiLineString" => Geometry::MultiLineString(
            array(json, &root, "an array of line strings")?
                .iter()
                .enumerate()
                .map(|(i, v)| line(v, &format!("{root}[{i}]"), 2))
                .collect::<Result<_, _>>()?,
        ),
        _ => Geometry::MultiPolygon(
            array(json, &root, "an array of polygons")?
                .iter()
                .enumerate()
                .map(|(i, v)| polygon(v, &format!("{root}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn array<'a>(
    v: &'a serde_json::Value,
    path: &str,
    expected: &'static str,
) -> Result<&'a Vec<serde_json::Value>, GeoError> {
    match v.as_array() {
        Some(a) if !a.is_empty() => Ok(a),
        _ => Err(GeoError::Coordinates {
            path: path.to_string(),
            expected,
        }),
    }
}

fn position(v: &serde_json::Value, path: &str) -> Result<Position, GeoError> {
    let a = array(v, path, "a position [longitude, latitude]")?;
    if a.len() < 2 || a.len() > 3 {
        return Err(GeoError::Coordinates {
            path: path.to_string(),
            expected: "a position with 2 or 3 numbers",
        });
    }
    let num = |i: usize| {
        a[i].as_f64().ok_or_else(|| GeoError::Coordinates {
            path: format!("{path}[{i}]"),
            expected: "a number",
        })
    };
    let (lon, lat) = (num(0)?, num(1)?);
    let alt = if a.len() == 3 { Some(num(2)?) } else { None };
    if !(-180.0..=180.0).contains(&lon) {
        return Err(GeoError::Longitude {
            path: format!("{path}[0]"),
            value: lon,
        });
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(GeoError::Latitude {
            path: format!("{path}[1]"),
            value: lat,
        });
    }
    Ok(Position { lon, lat, alt })
}

fn line(v: &serde_json::Value, path: &str, min: usize) -> Result<Vec<Position>, GeoError> {
    let a = array(v, path, "an array of positions")?;
    let positions = a
        .iter()
        .enumerate()
        .map(|(i, p)| position(p, &format!("{path}[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    if positions.len() < min {
        return Err(GeoError::TooFewPositions {
            path: path.to_string(),
            min,
            found: positions.len(),
        });
    }
    Ok(positions)
}

fn polygon(v: &serde_json::Value, path: &str) -> Result<Vec<Vec<Position>>, GeoError> {
    let rings = array(v, path, "an array of linear rings")?;
    rings
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let ring_path = format!("{path}[{i}]");
            let ring = line(r, &ring_path, 4)?;
            if ring.first() != ring.last() {
                return Err(GeoError::RingNotClosed { path: ring_path });
            }
            Ok(ring)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(lon: f64, lat: f64) -> Position {
        Position::new(lon, lat)
    }

    #[test]
    fn near_point() {
        assert_eq!(
            parse("near;maxDistance==2000", "Point", "[107.58,16.46]"),
            Ok(GeoQuery {
                georel: GeoRel::Near(Distance {
                    max: Some(2000.0),
                    min: None
                }),
                geometry: Geometry::Point(p(107.58, 16.46)),
            })
        );
        assert_eq!(
            parse_georel("near;minDistance==10;maxDistance==20"),
            Err(GeoError::TwoDistances { position: 21 })
        );
    }

    #[test]
    fn simple_georels() {
        for (s, r) in [
            ("within", GeoRel::Within),
            ("contains", GeoRel::Contains),
            ("intersects", GeoRel::Intersects),
            ("equals", GeoRel::Equals),
            ("disjoint", GeoRel::Disjoint),
            ("overlaps", GeoRel::Overlaps),
        ] {
            assert_eq!(parse_georel(s), Ok(r));
        }
    }

    #[test]
    fn geometries() {
        let sq = vec![p(0.0, 0.0), p(1.0, 0.0), p(1.0, 1.0), p(0.0, 0.0)];
        assert_eq!(
            parse_geometry("Polygon", "[[[0,0],[1,0],[1,1],[0,0]]]"),
            Ok(Geometry::Polygon(vec![sq.clone()]))
        );
        assert_eq!(
            parse_geometry("MultiPolygon", "[[[[0,0],[1,0],[1,1],[0,0]]]]"),
            Ok(Geometry::MultiPolygon(vec![vec![sq]]))
        );
        assert_eq!(
            parse_geometry("LineString", "[[0,0],[1,1,5]]"),
            Ok(Geometry::LineString(vec![
                p(0.0, 0.0),
                Position {
                    lon: 1.0,
                    lat: 1.0,
                    alt: Some(5.0)
                }
            ]))
        );
        assert_eq!(
            parse_geometry("MultiPoint", "[[2,3]]"),
            Ok(Geometry::MultiPoint(vec![p(2.0, 3.0)]))
        );
        assert_eq!(
            parse_geometry("MultiLineString", "[[[0,0],[1,1]]]"),
            Ok(Geometry::MultiLineString(vec![vec![
                p(0.0, 0.0),
                p(1.0, 1.0)
            ]]))
        );
    }

    #[test]
    fn georel_errors() {
        assert_eq!(parse_georel(""), Err(GeoError::EmptyGeorel));
        assert_eq!(
            parse_georel("nearby"),
            Err(GeoError::UnknownGeorel("nearby".into()))
        );
        assert_eq!(
            parse_georel("near"),
            Err(GeoError::Georel {
                position: 4,
                expected: "';maxDistance==N' or ';minDistance==N' after near",
                found: "end of georel".into()
            })
        );
        assert_eq!(
            parse_georel("near;maxDistance=5"),
            Err(GeoError::Georel {
                position: 16,
                expected: "'=='",
                found: "=5".into()
            })
        );
        assert_eq!(
            parse_georel("near;maxDistance==-5"),
            Err(GeoError::Georel {
                position: 18,
                expected: "a positive number of metres",
                found: "-5".into()
            })
        );
        assert_eq!(
            parse_georel("near;distance==5"),
            Err(GeoError::Georel {
                position: 5,
                expected: "maxDistance or minDistance",
                found: "distance==5".into()
            })
        );
        assert_eq!(
            parse_georel("near;maxDistance==5;maxDistance==6"),
            Err(GeoError::DuplicateDistance {
                position: 20,
                name: "maxDistance"
            })
        );
        assert!(parse_georel("near;maxDistance==0").is_err());
        assert_eq!(
            parse_georel("within;x"),
            Err(GeoError::Georel {
                position: 6,
                expected: "end of georel",
                found: ";".into()
            })
        );
    }

    #[test]
    fn geometry_errors() {
        assert_eq!(
            parse_geometry("Circle", "[0,0]"),
            Err(GeoError::UnknownGeometry("Circle".into()))
        );
        assert!(matches!(
            parse_geometry("Point", "[0,"),
            Err(GeoError::Json {
                line: 1,
                column: 3,
                ..
            })
        ));
        assert_eq!(
            parse_geometry("Point", "[0,\"a\"]"),
            Err(GeoError::Coordinates {
                path: "coordinates[1]".into(),
                expected: "a number"
            })
        );
        assert_eq!(
            parse_geometry("Point", "[1]"),
            Err(GeoError::Coordinates {
                path: "coordinates".into(),
                expected: "a position with 2 or 3 numbers"
            })
        );
        assert_eq!(
            parse_geometry("Point", "[181,0]"),
            Err(GeoError::Longitude {
                path: "coordinates[0]".into(),
                value: 181.0
            })
        );
        assert_eq!(
            parse_geometry("MultiPoint", "[[0,0],[0,-91]]"),
            Err(GeoError::Latitude {
                path: "coordinates[1][1]".into(),
                value: -91.0
            })
        );
        assert_eq!(
            parse_geometry("LineString", "[[0,0]]"),
            Err(GeoError::TooFewPositions {
                path: "coordinates".into(),
                min: 2,
                found: 1
            })
        );
        assert_eq!(
            parse_geometry("Polygon", "[[[0,0],[1,0],[1,1],[0,1]]]"),
            Err(GeoError::RingNotClosed {
                path: "coordinates[0]".into()
            })
        );
        assert_eq!(
            parse_geometry("Polygon", "[[[0,0],[1,0],[0,0]]]"),
            Err(GeoError::TooFewPositions {
                path: "coordinates[0]".into(),
                min: 4,
                found: 3
            })
        );
        assert_eq!(
            parse_geometry("Polygon", "[]"),
            Err(GeoError::Coordinates {
                path: "coordinates".into(),
                expected: "an array of linear rings"
            })
        );
        assert_eq!(
            parse("near;maxDistance==1", "LineString", "[[0,0],[1,1]]"),
            Err(GeoError::NearNeedsPoint("LineString"))
        );
    }
}
