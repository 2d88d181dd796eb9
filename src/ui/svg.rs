//! Pictures drawn on the server as SVG: the timeline of events and the
//! neighbourhood of a resource. Every element is closed explicitly (so the same
//! markup is well-formed XML for `image/svg+xml` and parses right inline in
//! HTML), colours are presentation attributes (no inline `style`, which the CSP
//! forbids), and each picture has a `<title>` and `<desc>` for screen readers.

use maud::{html, Markup};

/// An event on the timeline.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub href: String,
    pub label: String,
    /// `YYYY-MM-DD`, when known.
    pub date: Option<String>,
    /// The date as the source words it ("Tuesday", "next week").
    pub stated: Option<String>,
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

/// The timeline: dated events on a proportional axis, undated ones listed below.
pub fn timeline(events: &[Event], standalone: bool) -> Markup {
    let mut dated: Vec<(&Event, i64)> =
        events.iter().filter_map(|e| e.date.as_deref().and_then(days).map(|d| (e, d))).collect();
    dated.sort_by_key(|(_, d)| *d);
    let undated: Vec<&Event> = events.iter().filter(|e| e.date.as_deref().and_then(days).is_none()).collect();
    let (width, left, right) = (960.0f64, 40.0f64, 920.0f64);
    let rows = 4usize;
    let axis = 40.0 + 22.0 * rows as f64 + 30.0;
    let height = axis + 40.0 + 22.0 * undated.len() as f64 + 10.0;
    let (min, max) = match (dated.first(), dated.last()) {
        (Some((_, a)), Some((_, b))) if b > a => (*a as f64, *b as f64),
        (Some((_, a)), _) => (*a as f64 - 1.0, *a as f64 + 1.0),
        _ => (0.0, 1.0),
    };
    let x = |d: i64| left + (d as f64 - min) / (max - min) * (right - left);
    let description: String = events
        .iter()
        .map(|e| format!("{}: {}", e.date.clone().or(e.stated.clone()).unwrap_or_else(|| "undated".into()), e.label))
        .collect::<Vec<_>>()
        .join("; ");
    html! {
        svg xmlns=[standalone.then_some("http://www.w3.org/2000/svg")] class="timeline" viewBox={ "0 0 " (width) " " (height) }
            width="100%" role="img" aria-labelledby="timeline-title timeline-desc" {
            title id="timeline-title" { "Timeline of the events in the graph" }
            desc id="timeline-desc" { (description) }
            line x1=(left) y1=(axis) x2=(right) y2=(axis) stroke="currentColor" stroke-width="2" {}
            @for (i, (event, d)) in dated.iter().enumerate() {
                @let cx = x(*d);
                @let ly = 30.0 + 22.0 * (i % rows) as f64;
                a href=(event.href) {
                    line x1=(cx) y1=(ly + 4.0) x2=(cx) y2=(axis) stroke="#8a94a3" stroke-width="1" {}
                    circle cx=(cx) cy=(axis) r="6" fill="#0b5cad" {}
                    text x=(cx.min(width - 300.0)) y=(ly) font-size="13" fill="currentColor" {
                        (event.date.clone().unwrap_or_default()) " " (truncate(&event.label, 42))
                    }
                }
            }
            @for (i, event) in undated.iter().enumerate() {
                a href=(event.href) {
                    text x=(left) y=(axis + 40.0 + 22.0 * i as f64) font-size="13" fill="currentColor" {
                        (event.stated.clone().unwrap_or_else(|| "undated".into())) ": " (truncate(&event.label, 90))
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

/// The resource in the middle, its direct links around it, labelled.
pub fn neighbourhood(center: &str, neighbours: &[Neighbour]) -> Markup {
    let shown: Vec<&Neighbour> = neighbours.iter().take(16).collect();
    let (w, h) = (720.0f64, 440.0f64);
    let (cx, cy) = (w / 2.0, h / 2.0);
    let n = shown.len().max(1) as f64;
    let description: String = shown
        .iter()
        .map(|nb| {
            if nb.incoming {
                format!("{} {} {}", nb.label, nb.property, center)
            } else {
                format!("{} {} {}", center, nb.property, nb.label)
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
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
                @let angle = std::f64::consts::TAU * i as f64 / n - std::f64::consts::FRAC_PI_2;
                @let (x, y) = (cx + 240.0 * angle.cos(), cy + 170.0 * angle.sin());
                @let (x1, y1, x2, y2) = if nb.incoming { (x, y, cx, cy) } else { (cx, cy, x, y) };
                line x1=(x1) y1=(y1) x2=(x1 + (x2 - x1) * 0.9) y2=(y1 + (y2 - y1) * 0.9) stroke="#8a94a3" stroke-width="1.2" marker-end="url(#arrow)" {}
                text x=((cx + x) / 2.0) y=((cy + y) / 2.0 - 4.0) font-size="11" text-anchor="middle" fill="#5b6470" { (truncate(&nb.property, 28)) }
                a href=(nb.href) {
                    circle cx=(x) cy=(y) r="5" fill="#0b5cad" {}
                    text x=(x) y=(y + 18.0) font-size="12" text-anchor="middle" fill="currentColor" { (truncate(&nb.label, 26)) }
                }
            }
            circle cx=(cx) cy=(cy) r="9" fill="#c77d00" {}
            text x=(cx) y=(cy - 16.0) font-size="15" font-weight="bold" text-anchor="middle" fill="currentColor" { (truncate(center, 40)) }
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
