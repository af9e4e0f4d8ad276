import { describe, expect, it } from '@jest/globals';
import { LocalTaskUnhandled } from '../../core/errors.ts';
import { InvokeCommand, LambdaClient, fromCognitoIdentityPool } from './local-lambda-stub.ts';

describe("the package's stand-in for AWS Lambda in the local engine", () => {
  it('refuses to make a Lambda client, naming the missing local handler', () => {
    const attempt = () => new LambdaClient();
    expect(attempt).toThrow(LocalTaskUnhandled);
    expect(attempt).toThrow(/Task state of the local engine had no local handler/);
    try {
      attempt();
    } catch (error) {
      expect(error).toMatchObject({ name: 'LocalTaskUnhandled', kind: 'failure' });
    }
  });

  it('refuses the command and the credentials alike', () => {
    expect(() => new InvokeCommand()).toThrow(LocalTaskUnhandled);
    expect(() => fromCognitoIdentityPool()).toThrow(LocalTaskUnhandled);
  });
});
