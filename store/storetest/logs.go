package storetest

import "testing"

func testLogs(t *testing.T, open Opener) {
	t.Skip("not written yet")
}
