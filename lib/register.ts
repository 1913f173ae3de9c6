/**
 * `tsvma/register`: loaded with `node --require tsvma/register` or `node --import tsvma/register`
 * to give an unmodified program tsvma's sockets. The module hooks arrive with UDP offload
 * (issue 4); until then loading it only validates the configuration, so a bad TSVMA_* or VMA_*
 * value fails at start-up as documented.
 */
import { loadConfig } from './config';

loadConfig(process.env);
