package streamevents

// DeadLetter is what Lambda sends to a DynamoDB event source's on-failure
// destination: where the batch is in the stream, not the records themselves.
// The local stack writes the same document, one a line, to its dead-letter
// file.
type DeadLetter struct {
	RequestContext  DeadLetterRequest  `json:"requestContext"`
	ResponseContext DeadLetterResponse `json:"responseContext"`
	Version         string             `json:"version"`
	Timestamp       string             `json:"timestamp"`
	Batch           BatchInfo          `json:"DDBStreamBatchInfo"`
}

// DeadLetterRequest says which function gave up and why.
type DeadLetterRequest struct {
	RequestID              string `json:"requestId"`
	FunctionArn            string `json:"functionArn"`
	Condition              string `json:"condition"` // ConditionRetriesExhausted or ConditionRecordAge
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// DeadLetterResponse is the function's last answer.
type DeadLetterResponse struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// BatchInfo locates the batch's records in the stream.
type BatchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamArn                       string `json:"streamArn"`
}

// Why Lambda gave up on a batch.
const (
	ConditionRetriesExhausted = "RetryAttemptsExhausted"
	ConditionRecordAge        = "RecordAgeExceeded"
)

// Same reports whether d and o describe the same batch.
func (d DeadLetter) Same(o DeadLetter) bool {
	return d.Batch.StreamArn == o.Batch.StreamArn && d.Batch.ShardID == o.Batch.ShardID &&
		d.Batch.StartSequenceNumber == o.Batch.StartSequenceNumber && d.Batch.EndSequenceNumber == o.Batch.EndSequenceNumber
}
