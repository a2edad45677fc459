package storetest

import "testing"

func testWorkflows(t *testing.T, open Opener) {
	t.Skip("not written yet")
}
