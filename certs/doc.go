// Package certs is iotlab's local certificate authority and a set of pure crypto helpers.
//
// A [CA] lives in one directory and stands in for the three kinds of certificates a
// device meets when it talks to AWS IoT Core:
//
//   - root-ca.pem: the trust anchor clients load instead of AmazonRootCA1.pem
//     (AWS: server-authentication). Switching a client to AWS means swapping this
//     file and the host name, nothing else.
//   - device-ca.pem: the issuer of certificates that "AWS" makes
//     ([CA.CreateKeysAndCertificate], [CA.SignCSR]). Its subject copies the issuer
//     DN of real AWS IoT certificates, a single OU attribute whose value reads
//     "Amazon Web Services O=Amazon.com Inc. L=Seattle ST=Washington C=US".
//   - server.pem: the MQTT endpoint's certificate, for localhost, 127.0.0.1, ::1
//     and [Options.Hosts].
//
// Identity is not decided here: [CA.ServerTLSConfig] asks for any client
// certificate and verifies nothing, and the broker looks the certificate id up
// (AWS: x509-client-certs). Functions return typed errors ([ErrBadCSR],
// [ErrWeakKey], [ErrUnsupportedKey], …) for errors.Is.
//
// # Determinism
//
// Clock and randomness are injected through [Options], like crypto/tls's
// Config.Time and Config.Rand. Given a fixed Now and a seeded Rand:
//
//   - serial numbers and validity periods are fixed (both come from Options);
//   - signatures are fixed: ECDSA signs with RFC 6979 deterministic nonces and
//     RSA PKCS #1 v1.5 is deterministic by construction;
//   - new private keys are NOT fixed: since Go 1.26, crypto/ecdsa and crypto/rsa
//     ignore a caller's io.Reader when generating keys (unless
//     GODEBUG=cryptocustomrand=1). Tests that need identical keys call
//     testing/cryptotest.SetGlobalRandom, which makes the whole run repeatable.
//
// So a certificate made from a given key (NewSelfSigned, IssueLeaf, SignCSR) is
// byte-identical across runs; a freshly created CA or key pair is identical only
// under cryptotest.SetGlobalRandom.
package certs
