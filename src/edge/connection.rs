//! The Relay cursor connection every list answers with (API.md: `edges { cursor node }`,
//! `pageInfo { hasNextPage endCursor }`, `totalCount`), defined once: a capability declares
//! its list's GraphQL types with [`relay_connection!`](crate::relay_connection) and gets the
//! conversion from the service's [`Page`].

use async_graphql::SimpleObject;

use crate::infra::page::Page;

/// Relay page information.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether more items follow.
    pub has_next_page: bool,
    /// Cursor of the last item, to pass as `after`.
    pub end_cursor: Option<String>,
}

impl PageInfo {
    /// The page information of `page`.
    pub fn of<T>(page: &Page<T>) -> Self {
        Self {
            has_next_page: page.has_next,
            end_cursor: page.items.last().map(|(c, _)| c.clone()),
        }
    }
}

/// Declares a list's connection and edge types for nodes of type `$node`, converted from a
/// service's `Page` of anything `$node` is `From`. The doc strings are the types' and fields'
/// descriptions in the schema:
///
/// ```text
/// relay_connection!(UserConnection, UserEdge, User,
///     "A page of users.", "The users.", "Users matching, on all pages.",
///     "A user in a list.", "The user.");
/// ```
#[macro_export]
macro_rules! relay_connection {
    ($connection:ident, $edge:ident, $node:ty,
     $connection_doc:literal, $edges_doc:literal, $total_doc:literal,
     $edge_doc:literal, $node_doc:literal) => {
        #[doc = $edge_doc]
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            /// Opaque cursor.
            pub cursor: String,
            #[doc = $node_doc]
            pub node: $node,
        }

        #[doc = $connection_doc]
        #[derive(async_graphql::SimpleObject)]
        pub struct $connection {
            #[doc = $edges_doc]
            pub edges: Vec<$edge>,
            /// Paging.
            pub page_info: $crate::edge::connection::PageInfo,
            #[doc = $total_doc]
            pub total_count: i64,
        }

        impl<R> From<$crate::infra::page::Page<R>> for $connection
        where
            $node: From<R>,
        {
            fn from(page: $crate::infra::page::Page<R>) -> Self {
                let page_info = $crate::edge::connection::PageInfo::of(&page);
                Self {
                    total_count: page.total as i64,
                    edges: page
                        .items
                        .into_iter()
                        .map(|(cursor, row)| $edge {
                            cursor,
                            node: row.into(),
                        })
                        .collect(),
                    page_info,
                }
            }
        }
    };
}
