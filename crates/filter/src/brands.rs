//! Brands that phishing borrows, and the domains their own mail comes
//! from. A display name that names one of them over an address of some
//! other domain is the commonest lie of credential phishing (the display
//! name is all most mail programs show, RFC 5322 3.4's `display-name` is
//! free text, and nothing authenticates it: RFC 7489 covers only the
//! address). The list is of brands the phishing reports name most
//! (banks, parcel carriers, software, shops, tax offices, crypto wallets)
//! in the Americas and Europe, and only names that are not also common words or given
//! names ("Chase", "Tim", "Meta", "Outlook", "Security" are left out).

/// (name as it appears in a display name, lower case; the brand's own
/// mail domains: the sender's domain must be one of them or under one).
const BRANDS: &[(&str, &[&str])] = &[
    (
        "microsoft",
        &[
            "microsoft.com",
            "office.com",
            "office365.com",
            "outlook.com",
            "live.com",
            "sharepoint.com",
            "microsoftonline.com",
        ],
    ),
    ("office 365", &["microsoft.com", "office.com", "office365.com"]),
    ("office365", &["microsoft.com", "office.com", "office365.com"]),
    ("onedrive", &["microsoft.com", "onedrive.com"]),
    ("sharepoint", &["microsoft.com", "sharepoint.com"]),
    ("apple id", &["apple.com"]),
    ("icloud", &["apple.com", "icloud.com"]),
    ("itunes", &["apple.com"]),
    (
        "amazon",
        &[
            "amazon.com",
            "amazon.co.uk",
            "amazon.de",
            "amazon.fr",
            "amazon.es",
            "amazon.it",
            "amazon.ca",
            "amazon.in",
            "amazon.com.br",
            "amazon.co.jp",
            "amazon.com.mx",
            "amazon.com.au",
        ],
    ),
    ("paypal", &["paypal.com", "paypal.co.uk", "paypal.de", "paypal.com.br"]),
    ("netflix", &["netflix.com"]),
    ("dhl", &["dhl.com", "dhl.de", "dhl.co.uk", "dhl.com.br"]),
    ("fedex", &["fedex.com"]),
    ("ups", &["ups.com"]),
    ("usps", &["usps.com", "usps.gov"]),
    ("google", &["google.com", "youtube.com", "gmail.com"]),
    ("facebook", &["facebook.com", "facebookmail.com", "meta.com"]),
    ("instagram", &["instagram.com", "facebookmail.com", "meta.com"]),
    ("whatsapp", &["whatsapp.com", "meta.com"]),
    ("linkedin", &["linkedin.com"]),
    ("wells fargo", &["wellsfargo.com"]),
    ("bank of america", &["bankofamerica.com", "bofa.com"]),
    ("american express", &["americanexpress.com", "aexp.com"]),
    ("coinbase", &["coinbase.com"]),
    ("binance", &["binance.com"]),
    ("metamask", &["metamask.io"]),
    ("trust wallet", &["trustwallet.com"]),
    ("norton", &["norton.com", "nortonlifelock.com", "gen.com"]),
    ("mcafee", &["mcafee.com"]),
    ("geek squad", &["geeksquad.com", "bestbuy.com"]),
    ("walmart", &["walmart.com"]),
    ("costco", &["costco.com"]),
    ("home depot", &["homedepot.com"]),
    ("docusign", &["docusign.com", "docusign.net"]),
    ("dropbox", &["dropbox.com", "dropboxmail.com"]),
    ("adobe", &["adobe.com"]),
    ("wetransfer", &["wetransfer.com"]),
    ("spotify", &["spotify.com"]),
    ("booking.com", &["booking.com"]),
    ("airbnb", &["airbnb.com"]),
    ("ebay", &["ebay.com", "ebay.co.uk", "ebay.de"]),
    ("xfinity", &["xfinity.com", "comcast.net", "comcast.com"]),
    ("irs", &["irs.gov"]),
    ("hmrc", &["hmrc.gov.uk", "gov.uk"]),
    ("santander", &["santander.com", "santander.co.uk", "santander.com.br"]),
    ("correios", &["correios.com.br"]),
    ("bradesco", &["bradesco.com.br"]),
    ("itaú", &["itau.com.br"]),
    ("itau", &["itau.com.br"]),
    ("caixa", &["caixa.gov.br"]),
    ("nubank", &["nubank.com.br"]),
    ("banco do brasil", &["bb.com.br"]),
    ("mercado livre", &["mercadolivre.com.br", "mercadolivre.com"]),
    ("mercado pago", &["mercadopago.com", "mercadopago.com.br"]),
    ("receita federal", &["gov.br"]),
    ("detran", &["gov.br"]),
    ("serasa", &["serasa.com.br", "serasaexperian.com.br"]),
    ("shopee", &["shopee.com.br", "shopee.com"]),
    ("shein", &["shein.com"]),
    ("crypto.com", &["crypto.com"]),
    ("opensea", &["opensea.io"]),
    ("kraken", &["kraken.com"]),
    ("trezor", &["trezor.io"]),
    ("blockchain.com", &["blockchain.com"]),
    ("avast", &["avast.com"]),
    ("totalav", &["totalav.com"]),
    ("kaspersky", &["kaspersky.com"]),
    ("adac", &["adac.de"]),
    ("deutsche bank", &["db.com", "deutsche-bank.de"]),
    ("sparkasse", &["sparkasse.de"]),
    ("volksbank", &["volksbank.de", "vr.de"]),
    ("postbank", &["postbank.de"]),
    ("commerzbank", &["commerzbank.de", "commerzbank.com"]),
    ("deutsche post", &["deutschepost.de", "dhl.de"]),
    ("telekom", &["telekom.de", "t-online.de"]),
    ("vodafone", &["vodafone.de", "vodafone.com", "vodafone.co.uk"]),
    ("digid", &["digid.nl"]),
    ("belastingdienst", &["belastingdienst.nl"]),
    ("rabobank", &["rabobank.nl", "rabobank.com"]),
    ("abn amro", &["abnamro.nl", "abnamro.com"]),
    ("postnl", &["postnl.nl"]),
    ("royal mail", &["royalmail.com", "royalmail.co.uk"]),
    ("evri", &["evri.com"]),
    ("tv licensing", &["tvlicensing.co.uk"]),
    ("la poste", &["laposte.fr", "laposte.net"]),
    ("colissimo", &["laposte.fr", "colissimo.fr"]),
    ("chronopost", &["chronopost.fr"]),
    ("ameli", &["ameli.fr", "assurance-maladie.fr"]),
    ("correos", &["correos.es"]),
    ("bbva", &["bbva.com", "bbva.es"]),
    ("caixabank", &["caixabank.com", "caixabank.es"]),
    // A common noun too, but the brand phishing claims most after the
    // software giants (35 of the 1,500 messages of the phishing corpus,
    // every one about a hardware wallet); no SpamAssassin or tab name.
    ("ledger", &["ledger.com"]),
    ("bitget", &["bitget.com"]),
    ("uniswap", &["uniswap.org"]),
    ("temu", &["temu.com"]),
    ("starbucks", &["starbucks.com"]),
    ("t-mobile", &["t-mobile.com"]),
    (
        "lidl",
        &[
            "lidl.com",
            "lidl.de",
            "lidl.co.uk",
            "lidl.fr",
            "lidl.es",
            "lidl.it",
            "lidl.nl",
            "lidl.pt",
        ],
    ),
    (
        "decathlon",
        &[
            "decathlon.com",
            "decathlon.fr",
            "decathlon.de",
            "decathlon.co.uk",
            "decathlon.es",
            "decathlon.com.br",
        ],
    ),
    ("rossmann", &["rossmann.de"]),
];

/// The brand a display name claims when the address is not the brand's.
pub fn impersonated(display_name: &str, from_domain: &str) -> Option<&'static str> {
    // As a person reads it: "C o i n b a s e" and a Cyrillic "МеtaMask"
    // claim the brand as much as the plain name does.
    let name = crate::disguise::as_read(display_name);
    let domain = from_domain.trim_end_matches('.').to_ascii_lowercase();
    BRANDS
        .iter()
        .find(|(brand, domains)| {
            names(&name, brand)
                && !domains
                    .iter()
                    .any(|own| domain == *own || domain.ends_with(&format!(".{own}")))
        })
        .map(|(brand, _)| *brand)
}

/// `host` is one of the brands' own (or under one).
pub fn owns(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    BRANDS
        .iter()
        .flat_map(|(_, domains)| domains.iter())
        .any(|own| host == *own || host.ends_with(&format!(".{own}")))
}

/// `brand` occurs in `name` as a word of its own: not inside another word
/// and not after a hyphen ("Start-ups" names no parcel carrier).
fn names(name: &str, brand: &str) -> bool {
    let standalone = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric() && c != '-');
    name.match_indices(brand).any(|(at, _)| {
        standalone(name[..at].chars().next_back()) && standalone(name[at + brand.len()..].chars().next())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_brand_over_someone_elses_address_is_impersonation() {
        assert_eq!(impersonated("PayPal Service", "secure-mail.example"), Some("paypal"));
        assert_eq!(impersonated("Correios", "envio-rastreio.net.br"), Some("correios"));
        assert_eq!(impersonated("DHL Express", "notice.shop.test"), Some("dhl"));
        assert_eq!(impersonated("C o i n b a s e", "shop.test"), Some("coinbase"));
        assert_eq!(impersonated("L\u{E0139}edger", "shop.test"), Some("ledger"));
        assert_eq!(impersonated("MеtаМаsk.io", "shop.test"), Some("metamask"));
        assert_eq!(
            impersonated("Microsoft 365 Team", "m365.support.test"),
            Some("microsoft")
        );
    }

    #[test]
    fn a_brand_writing_from_its_own_domains_is_itself() {
        assert_eq!(impersonated("PayPal", "paypal.com"), None);
        assert_eq!(
            impersonated("Microsoft account team", "accountprotection.microsoft.com"),
            None
        );
        assert_eq!(impersonated("Detran SP", "detran.sp.gov.br"), None);
        assert_eq!(impersonated("Amazon.com", "marketplace.amazon.co.uk"), None);
        assert!(owns("billing.spotify.com") && owns("ledger.com"));
        assert!(!owns("legbranch.org") && !owns("notspotify.com"));
    }

    #[test]
    fn brand_names_inside_other_words_are_not_claims() {
        assert_eq!(impersonated("Start-ups Weekly", "news.test"), None);
        assert_eq!(impersonated("Groups Digest", "lists.test"), None);
        assert_eq!(impersonated("Tim Chapman", "2ubh.com"), None);
        assert_eq!(impersonated("Outlook Weekly", "economy.test"), None);
        assert_eq!(impersonated("Ana Souza", "partner.test"), None);
    }
}
