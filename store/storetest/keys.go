package storetest

import "testing"

func testKeys(t *testing.T, open Opener) {
	t.Skip("not written yet")
}
