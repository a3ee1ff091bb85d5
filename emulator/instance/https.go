package instance

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/iotlab/iotlab/broker"
	"github.com/iotlab/iotlab/emulator/policy"
)

// The device HTTPS data endpoint: iot-data for devices that authenticate with their certificate, on
// --https-addr (AWS's port 8443) and on the broker's ALPN listener (--alpn-addr, AWS's port 443) for
// connections that speak HTTPS. awsapi serves the operations; the broker decides identity and policy.
// AWS: protocols, http.html

// deviceAuth binds awsapi's DeviceAuthorizer to the broker.
type deviceAuth struct{ b *broker.Server }

func (a deviceAuth) AuthorizeDevice(r *http.Request, action, resource string) bool {
	if r.TLS == nil {
		return false
	}
	d, err := a.b.AuthorizeHTTPS(*r.TLS, r.RemoteAddr, action, resource)
	return err == nil && d.Effect == policy.Allowed
}

// connKey holds a request's connection in its context.
type connKey struct{}

// withConnTLS gives requests on the ALPN listener's connections (broker.HTTPSConn, deliberately not a
// *tls.Conn, so net/http leaves r.TLS nil) their TLS state; requests on HTTPSAddr have it already.
func withConnTLS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connKey{}).(broker.HTTPSConn); ok && r.TLS == nil {
			st := c.ConnectionState()
			r = r.WithContext(r.Context()) // a shallow copy: the server's request stays as it was
			r.TLS = &st
		}
		h.ServeHTTP(w, r)
	})
}

// enabled reports whether a listener address asks for a listener ("" and "off" do not).
func enabled(addr string) bool { return addr != "" && addr != "off" }

// startDeviceHTTPS serves the device endpoint on HTTPSAddr (TLS with the broker's server certificate,
// a client certificate required) and on the ALPN listener's HTTPS connections. It needs the API and
// the broker.
func (i *Instance) startDeviceHTTPS() error {
	hl := i.Broker.HTTPSListener()
	if !enabled(i.cfg.HTTPSAddr) && hl == nil {
		return nil
	}
	srv := &http.Server{
		Handler:           withConnTLS(i.API.DeviceHandler(deviceAuth{i.Broker})),
		ConnContext:       func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
		ReadHeaderTimeout: 10 * time.Second, // also bounds the TLS handshake
		// TLS handshake failures (a client without a certificate) are the client's business: debug.
		ErrorLog: slog.NewLogLogger(i.log.With("component", "https").Handler(), slog.LevelDebug),
	}
	var lns []net.Listener
	if enabled(i.cfg.HTTPSAddr) {
		ln, err := net.Listen("tcp", i.cfg.HTTPSAddr)
		if err != nil {
			return fmt.Errorf("instance: https listener: %w", err)
		}
		i.httpsLn = ln
		// No NextProtos: HTTP 1.0 and 1.1 only, as AWS. AWS: http.html
		lns = append(lns, tls.NewListener(ln, i.CA.ServerTLSConfig()))
	}
	if hl != nil {
		lns = append(lns, hl)
	}
	for _, ln := range lns {
		i.wg.Add(1)
		go func() {
			defer i.wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				i.log.Error("device https server stopped", "err", err)
			}
		}()
	}
	i.closers = append(i.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			return srv.Close()
		}
		return nil
	})
	return nil
}

// HTTPSAddr is the device HTTPS endpoint's host:port, "" when it is off.
func (i *Instance) HTTPSAddr() string {
	if i.httpsLn == nil {
		return ""
	}
	return i.httpsLn.Addr().String()
}

// ALPNAddr is the host:port of the listener that plays AWS's port 443, "" when it is off.
func (i *Instance) ALPNAddr() string {
	if i.Broker == nil || i.Broker.ALPNAddr() == nil {
		return ""
	}
	return i.Broker.ALPNAddr().String()
}
