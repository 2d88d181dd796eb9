//! Maps drawn on the server as SVG, from GeoSPARQL WKT literals: no tile
//! server and no outside request. A map has a title, a legend and labels that
//! do not overlap (a label that would is left out of the picture and kept in
//! its description and legend).
//!
//! Longitude and latitude are drawn in an equirectangular projection whose
//! horizontal scale is the cosine of the view's middle latitude, so that
//! shapes near the Baltic keep their proportions. The view is the extent of
//! the shapes marked as the focus, with a margin; the rest is cut at its edge.
//!
//! Every input is bounded: at most [`MAX_SHAPES`] shapes and [`MAX_POINTS`]
//! points are drawn, whatever a query returned.

use super::svg::{label_box, overlaps, LabelBox};
use geo::{BoundingRect, Contains, Geometry, Point, Rect};
use maud::{html, Markup};
use wkt::TryFromWkt;

/// Most shapes one map draws.
pub const MAX_SHAPES: usize = 500;
/// Most points one map draws, over all its shapes.
pub const MAX_POINTS: usize = 200_000;

/// One shape to draw.
#[derive(Debug, Clone)]
pub struct Shape {
    pub label: String,
    pub href: Option<String>,
    /// A `geo:wktLiteral`'s text (an optional `<CRS IRI>` first).
    pub wkt: String,
    /// Index into the legend: the shape's colour.
    pub class: usize,
    /// The view is fitted to the shapes in focus (to all when none is).
    pub focus: bool,
}

/// One entry of a map's legend.
#[derive(Debug, Clone)]
pub struct Key {
    pub label: String,
    pub colour: &'static str,
}

/// Colours for legends, distinguishable and legible under black labels.
pub const PALETTE: &[&str] = &["#f4a261", "#2a9d8f", "#e9c46a", "#8ab6d6", "#c77dff", "#e76f51", "#90be6d", "#d9d9d9"];
/// The colour of context drawn around the focus.
pub const CONTEXT: &str = "#e4e7eb";
/// The colour of what neighbours the focus.
pub const NEIGHBOUR: &str = "#cfe3f1";

/// A WKT literal's geometry (its CRS, when named, must be CRS84 or WGS 84).
pub fn parse(text: &str) -> Option<Geometry<f64>> {
    let text = text.trim();
    let text = match text.strip_prefix('<') {
        Some(rest) => {
            let (crs, geometry) = rest.split_once('>')?;
            if !(crs.ends_with("/CRS84") || crs.ends_with("/4326")) {
                return None;
            }
            geometry
        }
        None => text,
    };
    Geometry::try_from_wkt_str(text).ok()
}

/// The rings and lines of a geometry, as point lists (points as one-point lists).
fn parts(geometry: &Geometry<f64>, out: &mut Vec<Vec<(f64, f64)>>) {
    let line = |l: &geo::LineString<f64>| l.points().map(|p| (p.x(), p.y())).collect::<Vec<_>>();
    match geometry {
        Geometry::Point(p) => out.push(vec![(p.x(), p.y())]),
        Geometry::MultiPoint(m) => out.extend(m.iter().map(|p| vec![(p.x(), p.y())])),
        Geometry::LineString(l) => out.push(line(l)),
        Geometry::MultiLineString(m) => out.extend(m.iter().map(line)),
        Geometry::Polygon(p) => {
            out.push(line(p.exterior()));
            out.extend(p.interiors().iter().map(line));
        }
        Geometry::MultiPolygon(m) => {
            for p in m {
                out.push(line(p.exterior()));
                out.extend(p.interiors().iter().map(line));
            }
        }
        Geometry::GeometryCollection(c) => c.iter().for_each(|g| parts(g, out)),
        Geometry::Rect(r) => out.push(line(r.to_polygon().exterior())),
        Geometry::Triangle(t) => out.push(line(t.to_polygon().exterior())),
        Geometry::Line(l) => out.push(vec![(l.start.x, l.start.y), (l.end.x, l.end.y)]),
    }
}

/// Where longitude and latitude land in the picture.
struct Projection {
    view: Rect<f64>,
    scale: f64,
    cos: f64,
}

impl Projection {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 480.0;
    const LEGEND: f64 = 30.0;

    fn fit(extent: Rect<f64>) -> Self {
        let margin = (extent.width().max(extent.height()) * 0.35).clamp(2.0, 6.0);
        let (min, max) = (extent.min(), extent.max());
        let (mut x0, mut x1, mut y0, mut y1) = (min.x - margin, max.x + margin, min.y - margin, max.y + margin);
        let cos = ((y0 + y1) / 2.0).to_radians().cos().max(0.2);
        // Widen whichever side is short, so the view fills the picture.
        let (w, h) = ((x1 - x0) * cos, y1 - y0);
        let target = Self::WIDTH / (Self::HEIGHT - Self::LEGEND);
        if w / h < target {
            let grow = (h * target / cos - (x1 - x0)) / 2.0;
            (x0, x1) = (x0 - grow, x1 + grow);
        } else {
            let grow = (w / target - h) / 2.0;
            (y0, y1) = (y0 - grow, y1 + grow);
        }
        let view = Rect::new((x0, y0), (x1, y1));
        Projection { view, scale: Self::WIDTH / ((x1 - x0) * cos), cos }
    }

    fn point(&self, (x, y): (f64, f64)) -> (f64, f64) {
        ((x - self.view.min().x) * self.cos * self.scale, (self.view.max().y - y) * self.scale)
    }

    fn inside(&self, (x, y): (f64, f64)) -> bool {
        let (min, max) = (self.view.min(), self.view.max());
        (min.x..=max.x).contains(&x) && (min.y..=max.y).contains(&y)
    }
}

/// A shape ready to draw: its path and where its label may go, best first.
struct Drawn<'a> {
    shape: &'a Shape,
    path: String,
    anchors: Vec<(f64, f64)>,
}

/// Grid of the view where labels may go (columns, rows).
const GRID: (usize, usize) = (24, 16);

/// Where a shape's label may go, in the picture, best first: the points of a
/// grid over the view that lie inside it (nearest their middle first), or, for
/// points and lines, their vertices in view.
fn anchors(geometry: &Geometry<f64>, projection: &Projection, vertices: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let polygonal = matches!(geometry, Geometry::Polygon(_) | Geometry::MultiPolygon(_) | Geometry::Rect(_));
    let mut inside: Vec<(f64, f64)> = if polygonal {
        let (min, max) = (projection.view.min(), projection.view.max());
        let (w, h) = ((max.x - min.x) / GRID.0 as f64, (max.y - min.y) / GRID.1 as f64);
        (0..GRID.0)
            .flat_map(|i| (0..GRID.1).map(move |j| (min.x + (i as f64 + 0.5) * w, min.y + (j as f64 + 0.5) * h)))
            .filter(|p| geometry.contains(&Point::new(p.0, p.1)))
            .map(|p| projection.point(p))
            .collect()
    } else {
        vertices.to_vec()
    };
    if inside.is_empty() {
        inside = vertices.to_vec();
    }
    let n = inside.len().max(1) as f64;
    let (mx, my) = inside.iter().fold((0.0, 0.0), |(x, y), p| (x + p.0 / n, y + p.1 / n));
    inside.sort_by(|a, b| {
        let d = |p: &(f64, f64)| (p.0 - mx).powi(2) + (p.1 - my).powi(2);
        d(a).total_cmp(&d(b))
    });
    inside.truncate(24);
    inside
}

/// One shape as an SVG path, within what is left of the `budget` of points,
/// with the places its label may go.
fn draw<'a>(shape: &'a Shape, geometry: &Geometry<f64>, projection: &Projection, budget: &mut usize) -> Drawn<'a> {
    let mut rings = Vec::new();
    parts(geometry, &mut rings);
    let mut path = String::new();
    let mut vertices = Vec::new();
    // Finding label room costs a containment test per grid point.
    let small = rings.iter().map(Vec::len).sum::<usize>() <= 20_000;
    for ring in rings {
        if ring.len() > *budget {
            break;
        }
        *budget -= ring.len();
        for (i, p) in ring.iter().enumerate() {
            let (x, y) = projection.point(*p);
            if projection.inside(*p) && vertices.len() < 64 {
                vertices.push((x, y));
            }
            if ring.len() == 1 {
                // A point: a small circle as a path.
                path.push_str(&format!("M{:.1},{:.1}m-4,0a4,4 0 1,0 8,0a4,4 0 1,0 -8,0", x, y));
            } else {
                path.push_str(&format!("{}{:.1},{:.1}", if i == 0 { 'M' } else { 'L' }, x, y));
            }
        }
        if ring.len() > 2 {
            path.push('Z');
        }
    }
    let anchors = if small { anchors(geometry, projection, &vertices) } else { vertices };
    Drawn { shape, path, anchors }
}

/// The map of `shapes` titled `title`, coloured by `legend`.
pub fn map(title: &str, shapes: &[Shape], legend: &[Key]) -> Markup {
    let parsed: Vec<(&Shape, Geometry<f64>)> =
        shapes.iter().take(MAX_SHAPES).filter_map(|s| parse(&s.wkt).map(|g| (s, g))).collect();
    let focus: Vec<&(&Shape, Geometry<f64>)> = if parsed.iter().any(|(s, _)| s.focus) {
        parsed.iter().filter(|(s, _)| s.focus).collect()
    } else {
        parsed.iter().collect()
    };
    let extent = focus.iter().filter_map(|(_, g)| g.bounding_rect()).reduce(|a, b| {
        Rect::new(
            (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
            (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
        )
    });
    let description: String = parsed.iter().map(|(s, _)| s.label.as_str()).collect::<Vec<_>>().join(", ");
    let Some(extent) = extent else {
        return html! { p.meta { "No shape to map." } };
    };
    let projection = Projection::fit(extent);
    let mut budget = MAX_POINTS;
    let drawn: Vec<Drawn> =
        parsed.iter().map(|(shape, geometry)| draw(shape, geometry, &projection, &mut budget)).collect();
    let labels = place_labels(&drawn);
    let height = Projection::HEIGHT;
    html! {
        figure.map {
            svg class="map" viewBox={ "0 0 " (Projection::WIDTH) " " (height) } width="100%" role="img" aria-label=(title) {
                title { (title) }
                desc { (description) }
                rect x="0" y="0" width=(Projection::WIDTH) height=(height) fill="#f5f9fc" {}
                @for d in &drawn {
                    @let fill = legend.get(d.shape.class).map_or(CONTEXT, |k| k.colour);
                    @let stroke = if d.shape.focus { "#1d2733" } else { "#8a94a3" };
                    @if let Some(href) = &d.shape.href {
                        a href=(href) { path d=(d.path) fill=(fill) fill-rule="evenodd" stroke=(stroke) stroke-width="0.8" { title { (d.shape.label) } } }
                    } @else {
                        path d=(d.path) fill=(fill) fill-rule="evenodd" stroke=(stroke) stroke-width="0.8" { title { (d.shape.label) } }
                    }
                }
                @for (text, x, y, bold) in &labels {
                    text class="map-label" x=(format!("{x:.1}")) y=(format!("{y:.1}")) font-size="13" text-anchor="middle" pointer-events="none"
                        font-weight=(if *bold { "bold" } else { "normal" }) fill="#111" stroke="#fff" stroke-width="3" paint-order="stroke" { (text) }
                }
                @for (key, x, y) in legend_layout(legend, height) {
                    rect x=(x) y=(y - 10.0) width="14" height="12" fill=(key.colour) stroke="#1d2733" stroke-width="0.5" {}
                    text class="map-legend" x=(x + 20.0) y=(y) font-size="12" fill="#111" { (key.label) }
                }
            }
            figcaption { (title) }
        }
    }
}

/// Where each legend entry goes: in rows from the bottom left, each entry as
/// wide as its text (estimated like the labels), a new row when one is full.
fn legend_layout(legend: &[Key], height: f64) -> Vec<(&Key, f64, f64)> {
    let mut out = Vec::new();
    let (mut x, mut row) = (10.0, 0.0);
    for key in legend {
        let width = 20.0 + key.label.chars().count() as f64 * 12.0 * 0.62 + 24.0;
        if x > 10.0 && x + width > Projection::WIDTH {
            (x, row) = (10.0, row + 1.0);
        }
        out.push((key, x, height - 10.0 - 18.0 * row));
        x += width;
    }
    out
}

/// The labels that fit: focus shapes first, each at the first of its anchors
/// where its box is clear of the labels already placed and of the legend, else
/// left out.
fn place_labels(drawn: &[Drawn<'_>]) -> Vec<(String, f64, f64, bool)> {
    let mut order: Vec<&Drawn<'_>> = drawn.iter().filter(|d| !d.anchors.is_empty()).collect();
    order.sort_by_key(|d| !d.shape.focus);
    let mut placed: Vec<LabelBox> = Vec::new();
    let mut labels = Vec::new();
    let bottom = Projection::HEIGHT - Projection::LEGEND - 10.0;
    for d in order {
        let text = d.shape.label.clone();
        for &(x, y) in &d.anchors {
            let y = y + 4.0;
            let b = label_box(&text, x, y, 13.0, "middle");
            if b.0 >= 0.0
                && b.2 <= Projection::WIDTH
                && b.1 >= 0.0
                && b.3 <= bottom
                && !placed.iter().any(|p| overlaps(p, &b))
            {
                placed.push(b);
                labels.push((text, x, y, d.shape.focus));
                break;
            }
        }
    }
    labels
}

/// GeoSPARQL's WKT literal datatype.
pub const WKT_LITERAL: &str = "http://www.opengis.net/ont/geosparql#wktLiteral";

/// The map of an answer's WKT values, or `None` when it has none: one shape per
/// row (its first WKT value), named by the row's first other literal (else the
/// last segment of its first IRI), linked to the page of its first IRI.
pub fn from_rows(title: &str, rows: &[Vec<Option<oxigraph::model::Term>>]) -> Option<Markup> {
    use oxigraph::model::Term;
    let is_wkt = |t: &Option<Term>| matches!(t, Some(Term::Literal(l)) if l.datatype().as_str() == WKT_LITERAL);
    let shapes: Vec<Shape> = rows
        .iter()
        .filter_map(|row| {
            let Some(Term::Literal(wkt)) = row.iter().find(|t| is_wkt(t))? else { return None };
            let others = || row.iter().filter(|t| !is_wkt(t)).flatten();
            let literal =
                others().find_map(|t| if let Term::Literal(l) = t { Some(l.value().to_owned()) } else { None });
            let label = literal.or_else(|| {
                others().find_map(|t| match t {
                    Term::NamedNode(n) => Some(crate::linked_data::document::local_name(n.as_str())),
                    _ => None,
                })
            });
            let href = row.iter().find_map(|t| match t {
                Some(Term::NamedNode(n)) => Some(crate::linked_data::iri::page_href(n.as_str())),
                _ => None,
            });
            Some(Shape { label: label.unwrap_or_default(), href, wkt: wkt.value().to_owned(), class: 0, focus: true })
        })
        .collect();
    if shapes.is_empty() {
        return None;
    }
    let legend = [Key { label: format!("{} shape(s) of the answer", shapes.len()), colour: PALETTE[3] }];
    Some(map(title, &shapes, &legend))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answers_shape_is_named_by_its_label_before_its_iri() {
        use oxigraph::model::{Literal, NamedNode, Term};
        let row = vec![
            Some(Term::NamedNode(NamedNode::new_unchecked("https://w3id.org/treaty-kg/id/state/latvia"))),
            Some(Term::Literal(Literal::new_simple_literal("Latvia"))),
            Some(Term::Literal(Literal::new_typed_literal(
                "POLYGON((21 56, 28 56, 28 58, 21 58, 21 56))",
                NamedNode::new_unchecked(WKT_LITERAL),
            ))),
        ];
        let svg = from_rows("t", &[row]).unwrap().into_string();
        assert!(svg.contains(">Latvia<"), "{svg}");
        assert!(!svg.contains(">latvia<"), "{svg}");
    }

    fn shape(label: &str, wkt: &str, focus: bool) -> Shape {
        Shape { label: label.into(), href: None, wkt: wkt.into(), class: 0, focus }
    }

    #[test]
    fn labels_never_overlap_and_input_is_escaped() {
        let shapes: Vec<Shape> = (0..100)
            .map(|i| shape(&format!("<b>state {i}</b>"), &format!("POINT({} {})", i % 10, i / 10), true))
            .collect();
        let drawn: Vec<Drawn<'_>> = shapes
            .iter()
            .map(|s| Drawn { shape: s, path: String::new(), anchors: vec![(360.0, 200.0), (300.0, 100.0)] })
            .collect();
        let labels = place_labels(&drawn);
        assert!(!labels.is_empty() && labels.len() < 100);
        let boxes: Vec<LabelBox> = labels.iter().map(|(t, x, y, _)| label_box(t, *x, *y, 13.0, "middle")).collect();
        for (i, a) in boxes.iter().enumerate() {
            assert!(boxes[i + 1..].iter().all(|b| !overlaps(a, b)));
        }
        let svg = map("t", &shapes, &[Key { label: "k".into(), colour: PALETTE[0] }]).into_string();
        assert!(!svg.contains("<b>") && svg.contains("&lt;b&gt;"));
    }

    #[test]
    fn crs_and_bad_text() {
        assert!(parse("<http://www.opengis.net/def/crs/OGC/1.3/CRS84> POINT(1 2)").is_some());
        assert!(parse("<http://example.org/crs/other> POINT(1 2)").is_none());
        assert!(parse("POINT(1").is_none());
        assert_eq!(
            map("t", &[shape("a", "nonsense", true)], &[]).into_string(),
            "<p class=\"meta\">No shape to map.</p>"
        );
    }
}
