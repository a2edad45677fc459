package storetest

import "testing"

func testWorkspaces(t *testing.T, open Opener) {
	t.Skip("not written yet")
}
