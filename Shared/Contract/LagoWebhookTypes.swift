/// The webhook types a Lago-compatible billing platform sends (lago-api `config/webhook_event_types.yml`).
/// A type outside this list is still accepted and forwarded, marked as unknown.
public enum LagoWebhookTypes {
    public static let known: Set<String> = [
        "customer.created", "customer.updated", "customer.accounting_provider_created",
        "customer.accounting_provider_error", "customer.crm_provider_created", "customer.crm_provider_error",
        "customer.payment_provider_created", "customer.payment_provider_error", "customer.checkout_url_generated",
        "customer.tax_provider_error", "customer.vies_check",
        "subscription.started", "subscription.terminated", "subscription.canceled", "subscription.incomplete",
        "subscription.updated", "subscription.termination_alert", "subscription.trial_ended",
        "subscription.usage_threshold_reached", "fee.created", "fee.tax_provider_error",
        "invoice.created", "invoice.one_off_created", "invoice.paid_credit_added", "invoice.generated",
        "invoice.drafted", "invoice.ready_to_finalize", "invoice.voided", "invoice.deleted",
        "invoice.payment_dispute_lost", "invoice.payment_status_updated", "invoice.payment_overdue",
        "invoice.payment_failure", "invoice.resynced",
        "credit_note.created", "credit_note.generated", "credit_note.provider_refund_failure", "credit_note.refund_failure",
        "payment.succeeded", "payment.requires_action", "payment_provider.error", "payment_request.created",
        "payment_request.payment_failure", "payment_request.payment_status_updated", "payment_receipt.created",
        "payment_receipt.generated",
        "plan.created", "plan.updated", "plan.deleted", "billable_metric.created", "billable_metric.updated",
        "billable_metric.deleted", "feature.created", "feature.updated", "feature.deleted",
        "integration.provider_error", "alert.triggered", "dunning_campaign.finished", "event.error", "events.errors",
        "wallet.created", "wallet.updated", "wallet.terminated", "wallet.depleted_ongoing_balance",
        "wallet_transaction.created", "wallet_transaction.updated", "wallet_transaction.payment_failure",
    ]
}
