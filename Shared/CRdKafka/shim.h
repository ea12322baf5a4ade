// Typed entry points over librdkafka for Swift, which cannot call C variadic functions.
#ifndef CROSSBILL_CRDKAFKA_SHIM_H
#define CROSSBILL_CRDKAFKA_SHIM_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/// Produces one message (key, value, headers) to a topic with a per-message opaque.
/// On success librdkafka owns `headers`; on failure the caller still owns them.
static inline rd_kafka_resp_err_t crossbill_produce(rd_kafka_t *rk,
                                                    const char *topic,
                                                    const void *key, size_t key_len,
                                                    const void *value, size_t value_len,
                                                    rd_kafka_headers_t *headers,
                                                    void *opaque) {
    return rd_kafka_producev(rk,
                             RD_KAFKA_V_TOPIC(topic),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_KEY(key, key_len),
                             RD_KAFKA_V_VALUE((void *)value, value_len),
                             RD_KAFKA_V_HEADERS(headers),
                             RD_KAFKA_V_OPAQUE(opaque),
                             RD_KAFKA_V_END);
}

#endif
