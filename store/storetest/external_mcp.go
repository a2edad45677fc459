package storetest

import "testing"

func testExternalMCP(t *testing.T, open Opener) {
	t.Skip("not written yet")
}
