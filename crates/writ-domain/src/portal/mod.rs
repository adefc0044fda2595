//! What the portal's pages (DESIGN section 15) read beyond single domain operations: views that
//! combine several reads for one page, each gated by the same domain operation as the Graph
//! route the page mirrors, and read set-wise so a long page stays a few queries. One submodule
//! per area of the portal.

pub mod approvals;
