package storetest

import "testing"

func testMCPServers(t *testing.T, open Opener) {
	t.Skip("not written yet")
}
