package main

import (
	"net"
	"os"
)

// sdNotify tells the service manager about the node's state ("READY=1",
// "STOPPING=1"), as systemd's Type=notify expects: one datagram on the unix
// socket named by $NOTIFY_SOCKET (a name starting with @ is in Linux's
// abstract namespace, which the net package maps itself). Without the
// variable it does nothing: the node was not started by systemd.
func sdNotify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}
