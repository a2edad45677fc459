package storetest

import "testing"

func testProviders(t *testing.T, open Opener) {
	t.Skip("not written yet")
}
