import Foundation

/// The body of `GET /api/v1/query` (Prometheus' HTTP API), as far as an instant query needs it.
///
/// `{"status": "success", "data": {"resultType": "vector", "result": [{"metric": {…}, "value": [t, "v"]}]}}`,
/// `{"status": "success", "data": {"resultType": "scalar", "result": [t, "v"]}}`, or
/// `{"status": "error", "errorType": "bad_data", "error": "…"}`.
struct PrometheusResponse: Decodable {
    var status: String
    var data: ResultData?
    var errorType: String?
    var error: String?

    struct ResultData: Decodable {
        var resultType: String
        var result: Result

        enum CodingKeys: String, CodingKey { case resultType, result }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            resultType = try container.decode(String.self, forKey: .resultType)
            switch resultType {
            case "vector": result = .vector(try container.decode([Series].self, forKey: .result))
            case "scalar": result = .scalar(try container.decode(Sample.self, forKey: .result))
            default: result = .other
            }
        }
    }

    enum Result {
        case vector([Series])
        case scalar(Sample)
        /// `matrix` or `string`: not a single number.
        case other
    }

    struct Series: Decodable {
        var metric: [String: String]?
        var value: Sample
    }

    /// `[unix time, "value"]`: Prometheus writes values as strings ("0.5", "NaN", "+Inf").
    struct Sample: Decodable {
        var text: String

        init(from decoder: any Decoder) throws {
            var container = try decoder.unkeyedContainer()
            _ = try container.decode(Double.self)
            text = try container.decode(String.self)
        }

        /// The value, with Prometheus' spellings of the special ones; nil when it is no number.
        var value: Double? {
            switch text {
            case "NaN": .nan
            case "+Inf", "Inf": .infinity
            case "-Inf": -.infinity
            default: Double(text)
            }
        }
    }

    /// The single number the query answered, or why there is none.
    func singleValue() -> Swift.Result<Double, AnswerError> {
        guard status == "success" else {
            let kind = errorType.map { " (\($0))" } ?? ""
            return .failure(AnswerError("Prometheus error\(kind): \(error ?? "status \(status)")"))
        }
        guard let data else { return .failure(AnswerError("Prometheus answered success with no data")) }
        switch data.result {
        case .scalar(let sample):
            guard let value = sample.value else { return .failure(AnswerError("Prometheus returned '\(sample.text)', not a number")) }
            return .success(value)
        case .vector(let series):
            guard !series.isEmpty else { return .failure(AnswerError("no data: the query returned an empty vector")) }
            guard series.count == 1 else {
                return .failure(
                    AnswerError("the query returned \(series.count) series, not one (aggregate them, e.g. with sum())"))
            }
            guard let value = series[0].value.value else {
                return .failure(AnswerError("Prometheus returned '\(series[0].value.text)', not a number"))
            }
            return .success(value)
        case .other:
            return .failure(
                AnswerError("the query returned a \(data.resultType), not a scalar or an instant vector (drop the range selector)"))
        }
    }

    struct AnswerError: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }
}
