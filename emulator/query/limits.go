package query

// Production limits on query shape (Firestore "Query limitations").
const (
	// maxDisjunctions bounds the number of AND-terms in the filter's disjunctive normal form, where
	// in and array_contains_any count as one disjunction per value.
	maxDisjunctions = 30
	// maxNotInValues bounds the values of one not_in filter.
	maxNotInValues = 10
	// maxInequalityFields bounds the distinct fields that carry range or inequality filters.
	maxInequalityFields = 10
	// maxTermSize bounds filters + explicit orders + parent level (1 below a document, 0 at the
	// root) in each disjunction of the normal form.
	maxTermSize = 100
	// maxAggregations bounds the aggregations of one aggregation query.
	maxAggregations = 5
)
