// Typed entry points over libcurl for Swift, which cannot call C variadic functions.
#ifndef CROSSBILL_CCURL_SHIM_H
#define CROSSBILL_CCURL_SHIM_H

#include <curl/curl.h>

typedef size_t (*crossbill_curl_data_callback)(char *data, size_t size, size_t count, void *userdata);

static inline CURLcode crossbill_curl_set_long(CURL *easy, CURLoption option, long value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode crossbill_curl_set_string(CURL *easy, CURLoption option, const char *value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode crossbill_curl_set_pointer(CURL *easy, CURLoption option, void *value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode crossbill_curl_set_slist(CURL *easy, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode crossbill_curl_set_data_callback(CURL *easy, CURLoption option,
                                                        crossbill_curl_data_callback callback) {
    return curl_easy_setopt(easy, option, callback);
}

static inline CURLcode crossbill_curl_set_offset(CURL *easy, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode crossbill_curl_get_long(CURL *easy, CURLINFO info, long *value) {
    return curl_easy_getinfo(easy, info, value);
}

static inline CURLcode crossbill_curl_get_pointer(CURL *easy, CURLINFO info, void **value) {
    return curl_easy_getinfo(easy, info, value);
}

static inline CURLMcode crossbill_curl_multi_set_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

#endif
