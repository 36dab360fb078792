// Package verify proves what a destination holds: every object a manifest
// records is present with its size, its content re-read (streamed, decoded)
// hashes to the recorded SHA-256, plain message-log archives pass X-Road's
// evidence checks (zip structure, linkinginfo chain recomputed, name's Z),
// and the archives of each group form one unbroken chain. It also walks the
// manifest chain and reports objects no manifest records.
//
// It streams, so memory stays bounded whatever the history's length
// (scan.go merges the state with the listing, continuity.go sorts
// through spill files in the local temporary directory). It reads and
// never writes the destination.
package verify
