package main

// Embedded zone data: a minimal image has no /usr/share/zoneinfo, and config timeZone / --time-zone must still load.
import _ "time/tzdata"
