package verify

// DefaultConcurrency is how many objects verify re-reads at once, for the
// verify command and the scheduled verify job alike.
const DefaultConcurrency = 4
