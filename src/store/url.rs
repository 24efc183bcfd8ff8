//! `DATABASE_URL`, parsed once: which engine, where, and with which engine options.

use std::fmt;

/// Where the store lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    /// `mem://`: in memory, gone with the process (tests, try-outs).
    Memory,
    /// `rocksdb://PATH[?options]`: embedded RocksDB, the default.
    RocksDb {
        /// Directory of the database.
        path: String,
        /// `name=value` options after `?`, in order.
        options: Vec<(String, String)>,
    },
    /// `surrealkv://PATH[?options]`: embedded SurrealKV. Only ever opened as the source of
    /// `latchkey store copy`: SurrealKV 0.21.4 (the one SurrealDB 3.3.5 ships) loses
    /// acknowledged writes (see README "Durability").
    SurrealKv {
        /// Directory of the database.
        path: String,
        /// `name=value` options after `?`, in order.
        options: Vec<(String, String)>,
    },
    /// `ws://HOST:PORT` or `wss://...`: a SurrealDB server, possibly shared by several nodes.
    Remote(String),
}

/// Why a URL cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UrlError(pub String);

impl StoreUrl {
    /// Parses a database URL.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let url = url.trim();
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| UrlError("expected mem://, rocksdb://PATH or ws://HOST:PORT".into()))?;
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let options = match query {
            None => Vec::new(),
            Some(q) => q
                .split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) if !k.is_empty() && !v.is_empty() => {
                        Ok((k.to_string(), v.to_string()))
                    }
                    _ => Err(UrlError(format!("option `{kv}` is not NAME=VALUE"))),
                })
                .collect::<Result<_, _>>()?,
        };
        let embedded = |path: &str| {
            if path.is_empty() {
                Err(UrlError(format!("{scheme}:// needs a directory path")))
            } else {
                Ok(path.to_string())
            }
        };
        match scheme {
            "mem" => Ok(StoreUrl::Memory),
            "rocksdb" => {
                for (k, _) in &options {
                    if k != "sync" && !k.starts_with("rocksdb_") {
                        return Err(UrlError(format!(
                            "unknown rocksdb:// option `{k}` (accepted: sync, rocksdb_*)"
                        )));
                    }
                }
                Ok(StoreUrl::RocksDb {
                    path: embedded(path)?,
                    options,
                })
            }
            "surrealkv" => Ok(StoreUrl::SurrealKv {
                path: embedded(path)?,
                options,
            }),
            "ws" | "wss" => Ok(StoreUrl::Remote(url.to_string())),
            other => Err(UrlError(format!(
                "unknown engine `{other}://`: expected mem://, rocksdb://PATH or ws://HOST:PORT"
            ))),
        }
    }

    /// Whether this process is the store's only user: embedded engines are opened by one
    /// process (RocksDB locks its directory), so what this process caches cannot go stale
    /// behind its back. A server may be shared by several latchkey nodes.
    pub fn is_exclusive(&self) -> bool {
        !matches!(self, StoreUrl::Remote(_))
    }

    /// The directory of an embedded on-disk engine.
    pub fn path(&self) -> Option<&str> {
        match self {
            StoreUrl::RocksDb { path, .. } | StoreUrl::SurrealKv { path, .. } => Some(path),
            _ => None,
        }
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with =
            |f: &mut fmt::Formatter<'_>, scheme: &str, path: &str, o: &[(String, String)]| {
                write!(f, "{scheme}://{path}")?;
                for (i, (k, v)) in o.iter().enumerate() {
                    write!(f, "{}{k}={v}", if i == 0 { '?' } else { '&' })?;
                }
                Ok(())
            };
        match self {
            StoreUrl::Memory => write!(f, "mem://"),
            StoreUrl::RocksDb { path, options } => with(f, "rocksdb", path, options),
            StoreUrl::SurrealKv { path, options } => with(f, "surrealkv", path, options),
            // Credentials never travel in the URL (DATABASE_USER/PASSWORD), so it can be shown.
            StoreUrl::Remote(url) => write!(f, "{url}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        assert_eq!(StoreUrl::parse("mem://").unwrap(), StoreUrl::Memory);
        let u = StoreUrl::parse("rocksdb://./data/x.db?sync=every&rocksdb_write_buffer_size=65536")
            .unwrap();
        assert_eq!(u.path(), Some("./data/x.db"));
        assert_eq!(
            u.to_string(),
            "rocksdb://./data/x.db?sync=every&rocksdb_write_buffer_size=65536"
        );
        assert!(StoreUrl::parse("rocksdb://x?nope=1").is_err());
        assert!(StoreUrl::parse("rocksdb://").is_err());
        assert!(StoreUrl::parse("postgres://x").is_err());
        assert!(
            !StoreUrl::parse("ws://127.0.0.1:8000")
                .unwrap()
                .is_exclusive()
        );
    }
}
