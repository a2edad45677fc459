package storetest

import "testing"

func testSchedules(t *testing.T, open Opener) {
	t.Skip("not written yet")
}
