//! The account's orders list (RFC 8555 §7.1.2.1), paginated with
//! `Link: rel="next"`.

use serde::Deserialize;
use std::collections::HashSet;
use std::future::Future;
use tracing::warn;

use crate::account::Account;
use crate::error::{Error, Result};

/// Most pages [`Account::orders`] follows before giving up: a bound against
/// a server that keeps handing out new `next` links.
pub const MAX_ORDER_LIST_PAGES: usize = 1000;

/// One page of the orders list object.
#[derive(Deserialize)]
struct OrdersPage {
    orders: Vec<String>,
}

/// One fetched page: its order URLs and its `next` link, if any.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) orders: Vec<String>,
    pub(crate) next: Option<String>,
}

/// Follows `next` links from `first` and collects every order URL once, in
/// the order the server lists them.
///
/// Stops at the last page, or when a `next` link names a page already
/// fetched (a loop: every reachable page has been read; logged as a
/// warning). More than `max_pages` pages is an error.
pub(crate) async fn collect_pages<F, Fut>(
    first: &str,
    max_pages: usize,
    mut fetch: F,
) -> Result<Vec<String>>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Page>>,
{
    let mut seen_pages = HashSet::new();
    let mut seen_orders = HashSet::new();
    let mut orders = Vec::new();
    let mut next = Some(first.to_owned());
    while let Some(url) = next.take() {
        if !seen_pages.insert(url.clone()) {
            warn!(%url, "the orders list links back to a page already read; stopping there");
            break;
        }
        if seen_pages.len() > max_pages {
            return Err(Error::invalid(
                first,
                format!(
                    "the orders list goes on for more than {max_pages} pages; \
                     stopped following its rel=\"next\" links"
                ),
            ));
        }
        let page = fetch(url).await?;
        for order in page.orders {
            // Orders can move between pages while we read (RFC 8555
            // §7.1.2.1 lets the server order the list as it likes).
            if seen_orders.insert(order.clone()) {
                orders.push(order);
            }
        }
        next = page.next;
    }
    Ok(orders)
}

impl Account {
    /// The URLs of the account's orders (RFC 8555 §7.1.2.1), every page of
    /// the list. Which orders a server lists is its choice: the RFC says it
    /// "SHOULD include pending orders and SHOULD NOT include orders that are
    /// invalid" (Pebble leaves `invalid` ones out).
    ///
    /// Fetches the account object for its `orders` URL, then each page;
    /// follows `Link: rel="next"` up to [`MAX_ORDER_LIST_PAGES`] pages and
    /// stops if a link repeats. [`Error::Unsupported`] when the account
    /// object has no `orders` URL (Boulder, behind Let's Encrypt, sends none).
    pub async fn orders(&self) -> Result<Vec<String>> {
        let Some(first) = self.fetch().await?.orders else {
            return Err(Error::Unsupported(
                "the orders list (the account object has no \"orders\" URL)".into(),
            ));
        };
        collect_pages(&first, MAX_ORDER_LIST_PAGES, |url| async move {
            let (page, resp): (OrdersPage, _) = self.post_json(&url, None).await?;
            Ok(Page {
                orders: page.orders,
                next: resp.links("next").into_iter().next(),
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A list served from a map: URL → (orders, next).
    fn server(
        pages: &[(&str, &[&str], Option<&str>)],
    ) -> (HashMap<String, Page>, std::cell::RefCell<Vec<String>>) {
        let map = pages
            .iter()
            .map(|(url, orders, next)| {
                (
                    (*url).to_owned(),
                    Page {
                        orders: orders.iter().map(|s| (*s).to_owned()).collect(),
                        next: next.map(str::to_owned),
                    },
                )
            })
            .collect();
        (map, std::cell::RefCell::new(Vec::new()))
    }

    async fn run(
        pages: &[(&str, &[&str], Option<&str>)],
        max: usize,
    ) -> (Result<Vec<String>>, Vec<String>) {
        let (map, fetched) = server(pages);
        let result = collect_pages("p1", max, |url| {
            fetched.borrow_mut().push(url.clone());
            let page = map.get(&url).map(|p| Page {
                orders: p.orders.clone(),
                next: p.next.clone(),
            });
            async move { page.ok_or_else(|| Error::invalid(&url, "no such page")) }
        })
        .await;
        (result, fetched.into_inner())
    }

    /// RFC 8555 §7.1.2.1's example: a page of order URLs and a next link.
    #[test]
    fn rfc8555_7_1_2_1_orders_page() {
        let page: OrdersPage = serde_json::from_str(
            r#"{
              "orders": [
                "https://example.com/acme/order/TOlocE8rfgo",
                "https://example.com/acme/order/4E16bbL5iSw",
                "https://example.com/acme/order/neBHYLfw0mg"
              ]
            }"#,
        )
        .unwrap();
        assert_eq!(page.orders.len(), 3);
    }

    #[tokio::test]
    async fn follows_next_to_the_end() {
        let (got, fetched) = run(
            &[
                ("p1", &["o1", "o2"], Some("p2")),
                ("p2", &["o3"], Some("p3")),
                ("p3", &[], Some("p4")),
                ("p4", &["o4"], None),
            ],
            10,
        )
        .await;
        assert_eq!(got.unwrap(), ["o1", "o2", "o3", "o4"]);
        assert_eq!(fetched, ["p1", "p2", "p3", "p4"]);
    }

    #[tokio::test]
    async fn a_repeated_link_ends_the_walk() {
        let (got, fetched) = run(
            &[
                ("p1", &["o1"], Some("p2")),
                ("p2", &["o2", "o1"], Some("p1")),
            ],
            10,
        )
        .await;
        assert_eq!(got.unwrap(), ["o1", "o2"], "each order once");
        assert_eq!(fetched, ["p1", "p2"], "p1 is not fetched again");

        let (got, fetched) = run(&[("p1", &["o1"], Some("p1"))], 10).await;
        assert_eq!(got.unwrap(), ["o1"]);
        assert_eq!(fetched, ["p1"], "a page linking to itself");
    }

    #[tokio::test]
    async fn endless_new_pages_hit_the_bound() {
        let pages: Vec<(String, String)> = (1..=20)
            .map(|i| (format!("p{i}"), format!("p{}", i + 1)))
            .collect();
        let pages: Vec<(&str, &[&str], Option<&str>)> = pages
            .iter()
            .map(|(u, n)| (u.as_str(), &[][..], Some(n.as_str())))
            .collect();
        let (got, fetched) = run(&pages, 5).await;
        let err = got.unwrap_err();
        assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
        assert!(err.to_string().contains("more than 5 pages"), "{err}");
        assert_eq!(fetched.len(), 5);
    }

    #[tokio::test]
    async fn a_failing_page_is_the_error() {
        let (got, _) = run(&[("p1", &["o1"], Some("gone"))], 10).await;
        assert!(got.unwrap_err().to_string().contains("no such page"));
    }
}
