//go:build race

package sandbox

// The race detector maps large shadow regions as the heap grows, so the
// worker's address-space cap needs far more headroom.
const raceEnabled = true
