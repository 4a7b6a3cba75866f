// Package ocs is the protocol model of the Genesys OCS Communication DN API:
// the TKVList user data that travels on a CommDN, the message types and
// enumerations of the Outbound Contact Reference Manual, typed requests and
// events with their mandatory attributes, the campaign_schedule codec, the
// JSON form used by the bridge link, and the Link interface the reconciler
// talks through.
//
// Everything here is pure data and codecs: no goroutines, no I/O. Transports
// live in subpackages (ocs/bridge) and the simulator in ocs/ocssim.
package ocs
