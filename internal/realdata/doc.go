// Package realdata holds the real-data acceptance test: real public
// e-commerce orders (an extract of the Olist Brazilian E-Commerce Public
// Dataset, America/Sao_Paulo, spanning both DST changes of 2017/18) are
// imported as a new user would, through the ingest's CSV import parser and
// rollup into a real InfluxDB, and every daily, weekly and monthly number the
// datasource plugin returns is compared with an oracle computed from the CSV
// with the standard library only. See docs/real-data.md; the extract is read from
// shared/data/olist-sp-2017 (beside the clone; not committed).
package realdata
