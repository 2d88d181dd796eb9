//! A deterministic generator of synthetic data in our ontology, for benchmarks:
//! `treaty-kg generate --triples N --seed S > out.nq`.
//!
//! About 200 states; treaties, alliances and memberships by the thousand;
//! signatures (parties), withdrawals with dates, officials holding posts, events,
//! statements and quotations, each fact in a per-article sentence graph with
//! provenance. Skewed like real data: states are picked with a Zipf-like law, so
//! a few are party to very many treaties and most to few. Same seed, same bytes.

use std::io::{self, Write};

const B: &str = "https://w3id.org/treaty-kg/";
const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
const LABEL: &str = "http://www.w3.org/2000/01/rdf-schema#label";
const XSD_DATE: &str = "http://www.w3.org/2001/XMLSchema#date";

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// A Zipf-like pick in `0..n`: index i with weight about 1/(i+1).
    fn skewed(&mut self, n: u64) -> u64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (((n as f64 + 1.0).powf(u) - 1.0) as u64).min(n - 1)
    }
}

struct Out<W: Write> {
    w: W,
    written: u64,
}

impl<W: Write> Out<W> {
    fn iri(&mut self, s: &str, p: &str, o: &str, g: &str) -> io::Result<()> {
        self.written += 1;
        writeln!(self.w, "<{s}> <{p}> <{o}> <{g}> .")
    }
    fn lit(&mut self, s: &str, p: &str, o: &str, g: &str) -> io::Result<()> {
        self.written += 1;
        writeln!(self.w, "<{s}> <{p}> \"{o}\"@en <{g}> .")
    }
    fn typed(&mut self, s: &str, p: &str, o: &str, datatype: &str, g: &str) -> io::Result<()> {
        self.written += 1;
        writeln!(self.w, "<{s}> <{p}> \"{o}\"^^<{datatype}> <{g}> .")
    }
}

fn tkg(local: &str) -> String {
    format!("{B}ontology#{local}")
}

fn date(rng: &mut Rng) -> String {
    format!("{}-{:02}-{:02}", 1950 + rng.below(75), 1 + rng.below(12), 1 + rng.below(28))
}

/// States in the generated data; every other resource refers to them.
const STATES: u64 = 200;

/// Writes at least `triples` quads (N-Quads) to `w`.
pub fn generate(triples: u64, seed: u64, w: impl Write) -> io::Result<u64> {
    let mut rng = Rng(seed);
    let mut out = Out { w: io::BufWriter::with_capacity(1 << 20, w), written: 0 };
    states(&mut out, &mut rng)?;
    let mut article = 0u64;
    while out.written < triples {
        // One article: a treaty or an alliance, with what happened to it.
        let g0 = format!("{B}graph/article/g{article}/s0");
        let article_iri = format!("{B}id/article/g{article}");
        out.iri(&article_iri, RDF_TYPE, "https://schema.org/NewsArticle", &g0)?;
        out.typed(&article_iri, "http://purl.org/dc/terms/created", &date(&mut rng), XSD_DATE, &g0)?;
        let treaty = treaty(&mut out, &mut rng, article, &g0)?;
        parties(&mut out, &mut rng, article, &treaty, &g0)?;
        if article.is_multiple_of(10) {
            alliance(&mut out, &mut rng, article, &g0)?;
        }
        if article.is_multiple_of(5) {
            official(&mut out, &mut rng, article, &g0)?;
        }
        article += 1;
    }
    out.w.flush()?;
    Ok(out.written)
}

/// The states, their codes and borders, in the background graph.
fn states<W: Write>(out: &mut Out<W>, rng: &mut Rng) -> io::Result<()> {
    let background = format!("{B}graph/generated/background");
    for s in 0..STATES {
        let iri = format!("{B}id/state/s{s}");
        out.iri(&iri, RDF_TYPE, &tkg("SovereignState"), &background)?;
        out.lit(&iri, LABEL, &format!("State {s}"), &background)?;
        let code = format!("S{s:03}");
        out.typed(&iri, &tkg("iso3166Alpha2"), &code, "http://www.w3.org/2001/XMLSchema#string", &background)?;
        for _ in 0..3 {
            let other = rng.below(STATES);
            if other != s {
                out.iri(&iri, &tkg("borders"), &format!("{B}id/state/s{other}"), &background)?;
            }
        }
    }
    Ok(())
}

/// An article's treaty and what it prohibits; returns the treaty's IRI.
fn treaty<W: Write>(out: &mut Out<W>, rng: &mut Rng, article: u64, g0: &str) -> io::Result<String> {
    let treaty = format!("{B}id/treaty/t{article}");
    out.iri(&treaty, RDF_TYPE, &tkg("Treaty"), g0)?;
    out.lit(&treaty, LABEL, &format!("Treaty {article}"), g0)?;
    let year = (1950 + rng.below(75)).to_string();
    out.typed(&treaty, &tkg("yearOfAdoption"), &year, "http://www.w3.org/2001/XMLSchema#gYear", g0)?;
    for p in 0..1 + rng.below(4) {
        let prohibition = format!("{B}id/prohibition/t{article}-{p}");
        out.iri(&treaty, &tkg("prohibits"), &prohibition, g0)?;
        out.iri(&prohibition, RDF_TYPE, &tkg("Prohibition"), g0)?;
        let activity = format!("{B}id/concept/activity-{}", rng.below(4));
        out.iri(&prohibition, &tkg("prohibitedActivity"), &activity, g0)?;
    }
    Ok(treaty)
}

/// The treaty's parties, a sentence graph each, and now and then a withdrawal.
fn parties<W: Write>(out: &mut Out<W>, rng: &mut Rng, article: u64, treaty: &str, g0: &str) -> io::Result<()> {
    let parties = 2 + rng.skewed(60);
    for k in 0..parties {
        let g = format!("{B}graph/article/g{article}/s{}", 1 + k);
        let sentence = format!("{B}id/sentence/g{article}-{k}");
        out.iri(&g, "http://www.w3.org/ns/prov#wasDerivedFrom", &sentence, g0)?;
        out.lit(&sentence, "https://schema.org/text", &format!("Sentence {k} of article {article}."), g0)?;
        let state = format!("{B}id/state/s{}", rng.skewed(STATES));
        out.iri(&state, &tkg("partyTo"), treaty, &g)?;
        if rng.below(10) == 0 {
            let w = format!("{B}id/withdrawal/t{article}-{k}");
            out.iri(&w, RDF_TYPE, &tkg("TreatyWithdrawal"), &g)?;
            out.iri(&w, &tkg("withdrawingState"), &state, &g)?;
            out.iri(&w, &tkg("fromTreaty"), treaty, &g)?;
            let event = format!("{B}id/event/t{article}-{k}");
            out.iri(&event, RDF_TYPE, &tkg("Announcement"), &g)?;
            out.iri(&event, &tkg("announces"), &w, &g)?;
            out.typed(&event, &tkg("date"), &date(rng), XSD_DATE, &g)?;
        }
    }
    Ok(())
}

/// An alliance with skewed membership.
fn alliance<W: Write>(out: &mut Out<W>, rng: &mut Rng, article: u64, g0: &str) -> io::Result<()> {
    let alliance = format!("{B}id/organization/a{article}");
    out.iri(&alliance, RDF_TYPE, &tkg("MilitaryAlliance"), g0)?;
    out.lit(&alliance, LABEL, &format!("Alliance {article}"), g0)?;
    for _ in 0..3 + rng.skewed(30) {
        let member = format!("{B}id/state/s{}", rng.skewed(STATES));
        out.iri(&member, "http://www.w3.org/ns/org#memberOf", &alliance, g0)?;
    }
    Ok(())
}

/// An official, a post with a date, and a quotation with its source.
fn official<W: Write>(out: &mut Out<W>, rng: &mut Rng, article: u64, g0: &str) -> io::Result<()> {
    let person = format!("{B}id/person/p{article}");
    let post = format!("{B}id/post/p{article}");
    let state = format!("{B}id/state/s{}", rng.skewed(STATES));
    let g = format!("{B}graph/article/g{article}/s100");
    out.iri(&g, "http://www.w3.org/ns/prov#wasDerivedFrom", &format!("{B}id/sentence/g{article}-q"), g0)?;
    out.iri(&person, RDF_TYPE, &tkg("Official"), &g)?;
    out.lit(&person, LABEL, &format!("Official {article}"), &g)?;
    out.iri(&post, RDF_TYPE, "http://www.w3.org/ns/org#Post", &g)?;
    out.iri(&post, "http://www.w3.org/ns/org#heldBy", &person, &g)?;
    out.iri(&post, "http://www.w3.org/ns/org#postIn", &state, &g)?;
    out.typed(&post, "http://purl.org/dc/terms/created", &date(rng), XSD_DATE, &g)?;
    let quote = format!("{B}id/quotation/q{article}");
    out.iri(&quote, RDF_TYPE, "https://schema.org/Quotation", &g)?;
    out.iri(&quote, "https://schema.org/creator", &person, &g)?;
    let text = format!("Quotation number {article} about treaty {article}.");
    out.lit(&quote, "https://schema.org/text", &text, &g)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_parseable() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let n = generate(5_000, 7, &mut a).unwrap();
        generate(5_000, 7, &mut b).unwrap();
        assert_eq!(a, b, "same seed, same bytes");
        assert!(n >= 5_000);
        let quads: Vec<_> = oxigraph::io::RdfParser::from_format(oxigraph::io::RdfFormat::NQuads)
            .for_slice(&a)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(quads.len() as u64, n);
        let mut c = Vec::new();
        generate(5_000, 8, &mut c).unwrap();
        assert_ne!(a, c, "another seed, other data");
    }
}
