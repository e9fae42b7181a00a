/** The two files of the country data, under ip-location-db's names: in its npm package, or in a folder an operator keeps fresher. */
export const IPV4_FILE = 'geo-whois-asn-country-ipv4-num.csv';
export const IPV6_FILE = 'geo-whois-asn-country-ipv6-num.csv';
