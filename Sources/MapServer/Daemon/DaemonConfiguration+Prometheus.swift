import Logging
public import PrometheusAnalysis

/// `--prometheus URL` (SPEC §8.1): the server that `rollout.queries` run against.
extension DaemonConfiguration {
    /// The base URL without a trailing `/`, when it is an `http` or `https` URL with a host.
    ///
    /// - Throws: ``PrometheusURLError`` naming what is wrong with it.
    public static func parsePrometheusURL(_ text: String) throws(PrometheusURLError) -> String {
        try PrometheusQueryEvaluator.validate(text)
    }

    /// The evaluator for ``prometheusURL``; nil without the flag. The daemon shuts it down on exit.
    func makeQueryEvaluator(logger: Logger) throws -> PrometheusQueryEvaluator? {
        guard let prometheusURL else { return nil }
        return try PrometheusQueryEvaluator(baseURL: prometheusURL, logger: logger)
    }
}
