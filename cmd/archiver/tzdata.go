package main

// Embedded zone data: a minimal image has no /usr/share/zoneinfo.
import _ "time/tzdata"
