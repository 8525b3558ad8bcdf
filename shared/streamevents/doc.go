// Package streamevents models what AWS Lambda makes of a DynamoDB stream for
// the function it feeds: the event record it delivers (LambdaRecord), its
// event filtering (Filter), and the document it sends to an on-failure
// destination when it gives up on a batch (DeadLetter). The local stream
// poller (local/localstream) follows these, and the audit replay
// (cmd/audit-replay) reads them in AWS; so neither the emulator nor the
// operator's tool can change them for the other.
//
// DeadLetterFile, the local stack's stand-in for the dead-letter queue, is
// here too: the poller writes it and the replay reads and rewrites it, under
// one lock protocol that must have one owner.
package streamevents
