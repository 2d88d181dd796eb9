//! Pictures drawn on the server as SVG: the timeline of events and the
//! neighbourhood of a resource. Every element is closed explicitly (so the same
//! markup is well-formed XML for `image/svg+xml` and parses right inline in
//! HTML), colours are presentation attributes (no inline `style`, which the CSP
//! forbids), and each picture has a `<title>` and `<desc>` for screen readers.

use maud::{html, Markup};
use std::collections::BTreeMap;

/// An event on the timeline.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub href: String,
    pub label: String,
    /// `YYYY-MM-DD`, when known.
    pub date: Option<String>,
    /// The date as the source words it ("Tuesday", "next week").
    pub stated: Option<String>,
    /// How precise `date` is (`day`, `week`), when the data says.
    pub precision: Option<String>,
}

impl Event {
    /// When it happened, as precisely as the data knows: "2025-06-25", "week
    /// of 2025-07-24", the date as stated, or "undated".
    pub fn when(&self) -> String {
        match (&self.date, self.precision.as_deref()) {
            (Some(date), Some("week")) => format!("week of {date}"),
            (Some(date), _) => date.clone(),
            (None, _) => self.stated.clone().unwrap_or_else(|| "undated".into()),
        }
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (proleptic Gregorian).
fn days(date: &str) -> Option<i64> {
    let mut parts = date.splitn(3, '-');
    let (y, m, d): (i64, i64, i64) =
        (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.get(..2)?.parse().ok()?);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

/// A label's box: left, top, right, bottom (the timeline, the neighbourhood
/// diagram and the maps place their labels by these).
pub(crate) type LabelBox = (f64, f64, f64, f64);

pub(crate) fn overlaps(a: &LabelBox, b: &LabelBox) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// The width of `text` at font size `size`, estimated generously (0.62 em a character).
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.62
}

/// The box of `text` at font size `size` drawn at `x` with `anchor` (its
/// `text-anchor`: `start`, `end`, else centred), baseline `y`.
pub(crate) fn label_box(text: &str, x: f64, y: f64, size: f64, anchor: &str) -> LabelBox {
    let w = text_width(text, size);
    let left = match anchor {
        "start" => x,
        "end" => x - w,
        _ => x - w / 2.0,
    };
    (left, y - size, left + w, y + size * 0.3)
}

/// The timeline's horizontal axis: each year with events gets room in
/// proportion to how many it has (plus one), years without any are folded into
/// a break, so a dense year is not squeezed by decades of silence around it.
struct Axis {
    /// Per year with events: the year, its left edge and its width.
    years: Vec<(i64, f64, f64)>,
}

impl Axis {
    const LEFT: f64 = 40.0;
    const RIGHT: f64 = 920.0;
    const BREAK: f64 = 28.0;

    fn new(dated: &[(&Event, i64)]) -> Self {
        let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
        for (e, _) in dated {
            if let Some(y) = e.date.as_deref().and_then(|d| d.get(..4)?.parse().ok()) {
                *counts.entry(y).or_default() += 1;
            }
        }
        let breaks = counts.keys().zip(counts.keys().skip(1)).filter(|(a, b)| **b > **a + 1).count() as f64;
        let weights: Vec<(i64, f64)> = counts.iter().map(|(y, n)| (*y, 1.0 + *n as f64)).collect();
        let total: f64 = weights.iter().map(|(_, w)| w).sum::<f64>().max(1.0);
        let room = Self::RIGHT - Self::LEFT - breaks * Self::BREAK;
        let mut x = Self::LEFT;
        let mut years = Vec::new();
        let mut last: Option<i64> = None;
        for (y, w) in weights {
            if last.is_some_and(|l| y > l + 1) {
                x += Self::BREAK;
            }
            let width = room * w / total;
            years.push((y, x, width));
            x += width;
            last = Some(y);
        }
        Axis { years }
    }

    /// Where the breaks go: before each year that does not follow the one before.
    fn breaks(&self) -> Vec<f64> {
        self.years.windows(2).filter(|w| w[0].0 + 1 < w[1].0).map(|w| w[1].1 - Self::BREAK / 2.0).collect()
    }

    /// The years to write under the axis: each clear of the one before and of
    /// every break (a year's label is about 30 units wide).
    fn labels(&self) -> Vec<(i64, f64)> {
        let breaks = self.breaks();
        let mut shown: Vec<(i64, f64)> = Vec::new();
        for (year, x, _) in &self.years {
            let (from, to) = (x + 2.0, x + 2.0 + text_width("0000", 12.0));
            let clear_of_breaks = breaks.iter().all(|b| to <= b - 9.0 || b + 9.0 <= from);
            if clear_of_breaks && shown.last().is_none_or(|(_, last)| x - last >= 36.0) {
                shown.push((*year, *x));
            }
        }
        shown
    }

    /// Where a date lands.
    fn x(&self, date: &str, days_since_epoch: i64) -> f64 {
        let year: i64 = date.get(..4).and_then(|y| y.parse().ok()).unwrap_or_default();
        let start = days(&format!("{year:04}-01-01")).unwrap_or(days_since_epoch);
        let fraction = ((days_since_epoch - start) as f64 / 366.0).clamp(0.0, 1.0);
        self.years.iter().find(|(y, _, _)| *y == year).map_or(Self::LEFT, |(_, x, w)| x + fraction * w)
    }
}

/// One label of the timeline, placed.
struct Placed<'a> {
    event: &'a Event,
    x: f64,
    lane: usize,
    end: bool,
    text: String,
}

/// Places each dated event's label in the lowest lane above the axis where it
/// is clear of the labels already there (a lane is as tall as a line).
fn lanes<'a>(dated: &[(&'a Event, i64)], axis: &Axis) -> Vec<Placed<'a>> {
    let mut taken: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut placed = Vec::new();
    for (event, d) in dated {
        let x = axis.x(event.date.as_deref().unwrap_or_default(), *d);
        let text = format!("{} {}", event.when(), truncate(&event.label, 34));
        let w = text_width(&text, 12.0);
        // Past the right edge, the label ends at its event instead.
        let end = x + w > 960.0 - 4.0;
        let (from, to) = if end { (x - w - 4.0, x + 4.0) } else { (x - 4.0, x + w + 4.0) };
        let lane = match taken.iter().position(|spans| spans.iter().all(|(a, b)| to <= *a || *b <= from)) {
            Some(lane) => lane,
            None => {
                taken.push(Vec::new());
                taken.len() - 1
            }
        };
        taken[lane].push((from, to));
        placed.push(Placed { event, x, lane, end, text });
    }
    placed
}

/// The timeline: dated events on an axis that gives each year with events its
/// room (years without any folded into a break), every label in a lane of its
/// own where it overlaps no other; undated events listed below.
pub fn timeline(events: &[Event], standalone: bool) -> Markup {
    let mut dated: Vec<(&Event, i64)> =
        events.iter().filter_map(|e| e.date.as_deref().and_then(days).map(|d| (e, d))).collect();
    dated.sort_by_key(|(_, d)| *d);
    let undated: Vec<&Event> = events.iter().filter(|e| e.date.as_deref().and_then(days).is_none()).collect();
    let axis_scale = Axis::new(&dated);
    let placed = lanes(&dated, &axis_scale);
    let lane_count = placed.iter().map(|p| p.lane + 1).max().unwrap_or(0);
    let width = 960.0f64;
    let lane_y = |lane: usize| 24.0 + 18.0 * (lane_count - 1 - lane) as f64;
    let axis = 24.0 + 18.0 * lane_count as f64 + 10.0;
    let height = axis + 40.0 + 20.0 * undated.len() as f64 + 10.0;
    let description: String =
        events.iter().map(|e| format!("{}: {}", e.when(), e.label)).collect::<Vec<_>>().join("; ");
    html! {
        svg xmlns=[standalone.then_some("http://www.w3.org/2000/svg")] class="timeline" viewBox={ "0 0 " (width) " " (height) }
            width="100%" role="img" aria-labelledby="timeline-title timeline-desc" {
            title id="timeline-title" { "Timeline of the events in the graph" }
            desc id="timeline-desc" { (description) }
            @for b in axis_scale.breaks() {
                text class="timeline-break" x=(b) y=(axis + 5.0) font-size="14" text-anchor="middle" fill="#5b6470" { "⋯" }
            }
            @for (x, w) in axis_scale.years.iter().map(|(_, x, w)| (*x, *w)) {
                line x1=(x) y1=(axis) x2=(x + w) y2=(axis) stroke="currentColor" stroke-width="2" {}
                line x1=(x) y1=(axis - 4.0) x2=(x) y2=(axis + 4.0) stroke="currentColor" stroke-width="1" {}
            }
            @for (year, x) in axis_scale.labels() {
                text class="timeline-year" x=(x + 2.0) y=(axis + 18.0) font-size="12" fill="#5b6470" { (year) }
            }
            // Leader lines and dots first, then every label over them (with a halo).
            @for p in &placed {
                a href=(p.event.href) {
                    title { (p.event.when()) " " (p.event.label) }
                    line x1=(p.x) y1=(lane_y(p.lane) + 4.0) x2=(p.x) y2=(axis) stroke="#b8c0cc" stroke-width="1" {}
                    circle cx=(p.x) cy=(axis) r="5" fill="#0b5cad" {}
                }
            }
            @for p in &placed {
                a href=(p.event.href) {
                    title { (p.event.when()) " " (p.event.label) }
                    text class="timeline-label" x=(p.x) y=(lane_y(p.lane)) font-size="12" fill="currentColor"
                        stroke="#fff" stroke-width="3" paint-order="stroke"
                        text-anchor=(if p.end { "end" } else { "start" }) { (p.text) }
                }
            }
            @for (i, event) in undated.iter().enumerate() {
                a href=(event.href) {
                    text class="timeline-label" x=(Axis::LEFT) y=(axis + 44.0 + 20.0 * i as f64) font-size="12" fill="currentColor" {
                        (event.stated.clone().unwrap_or_else(|| "undated".into())) ": " (truncate(&event.label, 100))
                    }
                }
            }
        }
    }
}

/// A node of a neighbourhood diagram.
#[derive(Debug, Clone)]
pub struct Neighbour {
    pub href: String,
    pub label: String,
    pub property: String,
    /// The neighbour points at the resource (an incoming link).
    pub incoming: bool,
}

/// Where a label goes: x, baseline y and its `text-anchor`.
type Spot = (f64, f64, &'static str);

/// The first of `candidates` (centre x, baseline y, anchor) where `text` at
/// `size` is clear of every box in `placed`; it is then placed.
fn clear_spot(
    placed: &mut Vec<LabelBox>,
    text: &str,
    size: f64,
    candidates: &[Spot],
    bounds: (f64, f64),
) -> Option<Spot> {
    candidates.iter().copied().find(|&(x, y, anchor)| {
        let b = label_box(text, x, y, size, anchor);
        let fits = b.0 >= 0.0 && b.2 <= bounds.0 && b.1 >= 0.0 && b.3 <= bounds.1;
        if fits && !placed.iter().any(|p| overlaps(p, &b)) {
            placed.push(b);
            true
        } else {
            false
        }
    })
}

/// The links in words, for the picture's description.
fn links_described(center: &str, shown: &[&Neighbour]) -> String {
    let link = |nb: &&Neighbour| {
        if nb.incoming {
            format!("{} {} {}", nb.label, nb.property, center)
        } else {
            format!("{} {} {}", center, nb.property, nb.label)
        }
    };
    shown.iter().map(link).collect::<Vec<_>>().join("; ")
}

/// Each neighbour's name beside its node (below, above, or to the side away
/// from the centre), where it is clear of what is `placed`.
fn node_labels(
    placed: &mut Vec<LabelBox>,
    shown: &[&Neighbour],
    nodes: &[(f64, f64)],
    (w, h): (f64, f64),
) -> Vec<Option<(String, Spot)>> {
    let cx = w / 2.0;
    shown
        .iter()
        .zip(nodes)
        .map(|(nb, &(x, y))| {
            let text = truncate(&nb.label, 26);
            let side = if x >= cx { (x + 9.0, y + 4.0, "start") } else { (x - 9.0, y + 4.0, "end") };
            let spots = [(x, y + 19.0, "middle"), (x, y - 10.0, "middle"), side];
            clear_spot(placed, &text, 12.0, &spots, (w, h)).map(|spot| (text, spot))
        })
        .collect()
}

/// Each link's name along its line, at the first point along it that is clear.
fn edge_labels(
    placed: &mut Vec<LabelBox>,
    shown: &[&Neighbour],
    nodes: &[(f64, f64)],
    (w, h): (f64, f64),
) -> Vec<Option<(String, Spot)>> {
    let (cx, cy) = (w / 2.0, h / 2.0);
    shown
        .iter()
        .zip(nodes)
        .map(|(nb, &(x, y))| {
            let text = truncate(&nb.property, 28);
            let spots: Vec<(f64, f64, &'static str)> = [0.5, 0.62, 0.38, 0.72, 0.3]
                .iter()
                .map(|t| (cx + (x - cx) * t, cy + (y - cy) * t - 3.0, "middle"))
                .collect();
            clear_spot(placed, &text, 11.0, &spots, (w, h)).map(|spot| (text, spot))
        })
        .collect()
}

/// The resource in the middle, its direct links around it. Every label is
/// placed clear of the others: a node's name beside its node, a link's name
/// along its line; one that finds no room is left to the description and the
/// statements table.
pub fn neighbourhood(center: &str, neighbours: &[Neighbour]) -> Markup {
    let shown: Vec<&Neighbour> = neighbours.iter().take(16).collect();
    let (w, h) = (720.0f64, 440.0f64);
    let (cx, cy) = (w / 2.0, h / 2.0);
    let n = shown.len().max(1) as f64;
    let description = links_described(center, &shown);
    let nodes: Vec<(f64, f64)> = (0..shown.len())
        .map(|i| {
            let angle = std::f64::consts::TAU * i as f64 / n - std::f64::consts::FRAC_PI_2;
            (cx + 250.0 * angle.cos(), cy + 175.0 * angle.sin())
        })
        .collect();
    let mut placed: Vec<LabelBox> = nodes.iter().map(|(x, y)| (x - 6.0, y - 6.0, x + 6.0, y + 6.0)).collect();
    let centre_text = truncate(center, 40);
    let centre =
        clear_spot(&mut placed, &centre_text, 15.0, &[(cx, cy - 16.0, "middle"), (cx, cy + 28.0, "middle")], (w, h));
    let node_labels = node_labels(&mut placed, &shown, &nodes, (w, h));
    let edge_labels = edge_labels(&mut placed, &shown, &nodes, (w, h));
    html! {
        svg class="neighbourhood" viewBox={ "0 0 " (w) " " (h) } width="100%" role="img" aria-labelledby="nb-title nb-desc" {
            title id="nb-title" { "Direct links of " (center) }
            desc id="nb-desc" { (description) }
            defs {
                marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse" {
                    path d="M 0 0 L 10 5 L 0 10 z" fill="#8a94a3" {}
                }
            }
            @for (i, nb) in shown.iter().enumerate() {
                @let (x, y) = nodes[i];
                @let (x1, y1, x2, y2) = if nb.incoming { (x, y, cx, cy) } else { (cx, cy, x, y) };
                line x1=(x1) y1=(y1) x2=(x1 + (x2 - x1) * 0.95) y2=(y1 + (y2 - y1) * 0.95) stroke="#8a94a3" stroke-width="1.2" marker-end="url(#arrow)" {
                    title { (nb.property) }
                }
                @if let Some((text, (lx, ly, anchor))) = &edge_labels[i] {
                    text class="nb-label" x=(lx) y=(ly) font-size="11" text-anchor=(anchor) fill="#5b6470" stroke="#fff" stroke-width="3" paint-order="stroke" { (text) }
                }
                a href=(nb.href) {
                    circle cx=(x) cy=(y) r="5" fill="#0b5cad" { title { (nb.label) } }
                    @if let Some((text, (lx, ly, anchor))) = &node_labels[i] {
                        text class="nb-label" x=(lx) y=(ly) font-size="12" text-anchor=(anchor) fill="currentColor" { (text) }
                    }
                }
            }
            circle cx=(cx) cy=(cy) r="9" fill="#c77d00" {}
            @if let Some((lx, ly, anchor)) = centre {
                text class="nb-label" x=(lx) y=(ly) font-size="15" font-weight="bold" text-anchor=(anchor) fill="currentColor" { (centre_text) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(days("1970-01-01"), Some(0));
        assert_eq!(days("2000-03-01"), Some(11_017));
        assert_eq!(days("2025-03-18").unwrap() - days("2022-02-24").unwrap(), 1118);
        assert_eq!(days("next week"), None);
    }

    #[test]
    fn pictures_escape_labels_and_close_every_element() {
        let events = vec![Event {
            href: "/page/a".into(),
            label: "<script>alert(1)</script>".into(),
            date: Some("2020-01-01".into()),
            stated: None,
            precision: None,
        }];
        let svg = timeline(&events, true).into_string();
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("<circle") && svg.contains("</circle>"));
        let nb = neighbourhood(
            "\" onmouseover=\"x",
            &[Neighbour { href: "/page/b".into(), label: "b".into(), property: "p".into(), incoming: true }],
        );
        assert!(!nb.into_string().contains("\" onmouseover"));
    }
}
