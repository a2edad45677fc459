//go:build race

package httpapi_test

// raceEnabled: timing bounds are loosened under the race detector, which slows the
// server and the (race-built) sandbox workers several-fold.
const raceEnabled = true
